#!/bin/sh
# `npm run bench:peers-setup`: install the peers the bench compares Sluice with (group `peers`,
# see bench/README.md): nginx and Apache httpd, from Debian's packages. Idempotent: does nothing
# when both are there. Needs root (or sudo). Nothing is installed or downloaded at bench time.
#
# Only the binaries and modules are wanted, never a system service: apache2-bin (no service,
# no port 80) rather than apache2; for nginx (whose package brings a service) a policy-rc.d
# that answers 101 keeps invoke-rc.d from starting it during the install, as in a container.
set -eu

missing=""
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -x /usr/sbin/apache2 ] || missing="$missing apache2-bin"
if [ -z "$missing" ]; then
  echo "peers-setup: nginx and Apache httpd are installed:"
  /usr/sbin/nginx -v 2>&1 | sed 's/^/  /'
  /usr/sbin/apache2 -v 2>&1 | head -1 | sed 's/^/  /'
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "peers-setup: apt-get not found; install nginx and Apache httpd (apache2) with this system's packages" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "peers-setup: needs root (or sudo) to install:$missing" >&2
    exit 1
  fi
fi

# Keep the install from starting services (nginx's package would start one on port 80).
POLICY=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, from sluice bench/peers-setup.sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  ours=1
fi
cleanup() { if [ -n "$ours" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT INT TERM

echo "peers-setup: installing$missing from Debian's packages"
# Another install may hold dpkg's lock (a shared machine): wait for it rather than fail.
LOCK="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086
$SUDO apt-get $LOCK update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get $LOCK install -y -qq --no-install-recommends $missing

/usr/sbin/nginx -v
/usr/sbin/apache2 -v | head -1

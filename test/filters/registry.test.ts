import { describe, expect, it } from 'vitest';
import {
  builtins,
  compileChain,
  defineFilter,
  FilterRegistry,
  DuplicateFilterError,
  UnknownFilterError,
  FilterOptionsError,
  FilterDirectionError,
  FilterDefinitionError,
  Type,
} from '../../src/index.js';

const level = defineFilter({
  name: 'Leveled',
  directions: ['output'],
  stage: 'encoding',
  description: 'takes a level',
  options: Type.Object(
    {
      level: Type.Integer({ minimum: 1, maximum: 9, default: 6 }),
      rules: Type.Array(Type.Object({ from: Type.String(), to: Type.String() }, { additionalProperties: false }), { default: [] }),
    },
    { additionalProperties: false },
  ),
  validate: (o) => {
    if (o.rules.some((r) => r.from === '')) throw new Error('rules: "from" must not be empty');
  },
  create: () => ({}),
});

describe('registry', () => {
  it('registers by name, case-insensitively, and rejects duplicates', () => {
    const reg = new FilterRegistry().register(level);
    expect(reg.get('leveled')).toBe(level);
    expect(reg.has('LEVELED')).toBe(true);
    expect(() => reg.register({ ...level, name: 'leveled' })).toThrow(DuplicateFilterError);
    try {
      reg.register(level);
    } catch (err) {
      expect((err as DuplicateFilterError).code).toBe('ERR_SLUICE_DUPLICATE_FILTER');
    }
  });

  it('is extended by users in a few lines, without touching the builtins', () => {
    const mine = builtins.extend().register(level);
    expect(mine.names()).toEqual([...builtins.names(), 'Leveled'].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(builtins.has('leveled')).toBe(false);
    expect(() => mine.register({ ...level, name: 'identity' })).toThrow(DuplicateFilterError);
    expect(compileChain(['leveled', 'identity'], { registry: mine }).describe()).toBe('identity (content) → Leveled (encoding)');
  });

  it('lists filters with directions, stage and options schema', () => {
    const [info] = new FilterRegistry().register(level).list();
    expect(info).toMatchObject({ name: 'Leveled', directions: ['output'], stage: 'encoding', description: 'takes a level', preservesLength: false });
    expect(Object.keys((info!.options as unknown as { properties: object }).properties)).toEqual(['level', 'rules']);
  });

  it('rejects malformed definitions', () => {
    expect(() => new FilterRegistry().register({ ...level, name: '9lives' })).toThrow(FilterDefinitionError);
    expect(() => new FilterRegistry().register({ ...level, directions: [] })).toThrow(FilterDefinitionError);
    expect(() => new FilterRegistry().register({ ...level, stage: 'middle' as 'content' })).toThrow(/stage must be one of/);
  });
});

describe('compiling a chain', () => {
  const reg = builtins.extend().register(level);
  const compile = (options: unknown) => compileChain([{ filter: 'leveled', options }], { registry: reg });

  it('applies defaults once and freezes the options', () => {
    const entry = compile({}).entries[0]!;
    expect(entry.options).toEqual({ level: 6, rules: [] });
    expect(Object.isFrozen(entry.options)).toBe(true);
  });

  it.each([
    [{ level: 12 }, 'level', /less or equal to 9/],
    [{ level: 'high' }, 'level', /Expected integer/],
    [{ levle: 3 }, 'levle', /unknown option/],
    [{ rules: [{ from: 'a' }] }, 'rules/0/to', /Expected required property/],
    [{ rules: [{ from: '', to: 'b' }] }, '', /"from" must not be empty/],
  ])('names the filter and the option for %j', (options, option, message) => {
    let err: FilterOptionsError | undefined;
    try {
      compile(options);
    } catch (e) {
      err = e as FilterOptionsError;
    }
    expect(err).toBeInstanceOf(FilterOptionsError);
    expect(err!.code).toBe('ERR_SLUICE_FILTER_OPTIONS');
    expect(err!.filter).toBe('Leveled');
    expect(err!.option).toBe(option);
    expect(err!.message).toMatch(message);
    expect(err!.message).toContain('filter "Leveled"');
  });

  it('rejects options for a filter that takes none', () => {
    expect(() => compileChain([{ filter: 'identity', options: { x: 1 } }])).toThrow(/filter "identity": option "x": this filter takes no options/);
  });

  it('rejects an unknown name, listing what exists', () => {
    expect(() => compileChain(['gzipp'])).toThrow(UnknownFilterError);
    expect(() => compileChain(['gzipp'])).toThrow(/registered: .*gzip, .*identity/);
  });

  it('rejects a filter in a direction it does not serve', () => {
    expect(() => compileChain(['leveled'], { registry: reg, direction: 'input' })).toThrow(FilterDirectionError);
  });
});

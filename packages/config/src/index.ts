export * from './types.js';
export * from './errors.js';
export { computeRevision } from './revision.js';
export { parseConfigText } from './parse.js';
export { loadConfigFile } from './load.js';
export { writeFileAtomic, type AtomicFsOps, type WriteOptions } from './write.js';
export { spliceConfig, replaceSectionValues, type ConfigEdit, type TomlScalar } from './splice.js';
export { renderDefaultConfig, type DefaultConfigOptions } from './render.js';
export { CATALOGUE, TELEMT_KEYS, MTEDGE_KEYS, catalogueEntry, type CatalogueEntry, type KeyStatus } from './catalogue.js';

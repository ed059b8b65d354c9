export { type BulkOptions, insertFlat, insertObjects, insertSql, rowsPerStatement } from './bulk.js';
export {
  type Database,
  DatabaseOpenError,
  dialectOf,
  explainStartupError,
  type OpenOptions,
  openDatabase,
  redactUrl,
} from './database.js';
export {
  createAppendOnlyTriggers,
  type DialectName,
  dialectOfExecutor,
  dialectTypes,
  isUniqueViolation,
  lockForUpdate,
  MAX_BIND_PARAMS,
  placeholder,
  toBuffer,
} from './dialect.js';
export {
  type BatchCommit,
  type BatchStats,
  createBatchCommit,
  createGroupCommit,
  DEFAULT_MAX_QUEUE,
  type GroupCommit,
  QueueFullError,
} from './groupcommit.js';
export { describeSchema, type Migration, MigrationError, migrate, migrationChecksum } from './migrator.js';
export { openScratchDatabase, type ScratchDatabase } from './scratch.js';
export { type DiskUsage, diskUsage, storageSettings } from './size.js';

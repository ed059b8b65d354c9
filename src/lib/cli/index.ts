export { type CommandContext, EXIT, type Opened, type Output } from './context.js';
export { createOutput, table } from './output.js';

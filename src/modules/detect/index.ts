export { detectError } from './detect.errors.js';
export { detectRoutes } from './detect.routes.js';
export {
  type Alert,
  type AlertInput,
  createDetect,
  type Detect,
  type DetectDeps,
  type Severity,
} from './detect.service.js';

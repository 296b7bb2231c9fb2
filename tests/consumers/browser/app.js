// A browser app, bundled by each bundler of the matrix as it comes (default settings):
// tracks the events its page's URL asks for (JSON in the fragment) with a customer token,
// flushes, and leaves the outcome in window.EDGEMETER_RESULT for the runner.
import { trackAll } from './track.js';

window.EDGEMETER_RESULT = trackAll(JSON.parse(decodeURIComponent(location.hash.slice(1)))).catch((e) => ({
  error: String((e && e.stack) || e),
}));

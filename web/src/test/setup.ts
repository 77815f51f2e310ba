import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

// Testing Library cleans up by itself only with test globals; this suite imports from vitest.
afterEach(() => {
  cleanup();
  window.localStorage.clear();
});

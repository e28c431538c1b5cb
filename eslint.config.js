import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/', '.tmp/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // The pages' plain ESM (web/demo, web/dashboard) runs in browsers.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window', 'document', 'navigator', 'location', 'history', 'performance', 'crypto', 'localStorage', 'sessionStorage',
          'fetch', 'URLSearchParams', 'Blob', 'File', 'FileReader', 'TextEncoder', 'TextDecoder', 'AbortController', 'Event', 'CustomEvent', 'EventTarget',
          'HTMLElement', 'HTMLVideoElement', 'MediaStream', 'RTCPeerConnection', 'WebSocket', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
          'TextDecoderStream', 'ReadableStream', 'structuredClone', 'alert', 'confirm', 'getComputedStyle', 'matchMedia', 'ResizeObserver', 'IntersectionObserver', 'MutationObserver', 'Intl', 'Image', 'atob', 'btoa',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);

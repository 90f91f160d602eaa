// ESLint for the front end (`make lint`; tests/webapp/test_js_lint.py runs it under pytest).
// Page scripts are native ES modules; the vendored libraries are classic scripts that
// define the only globals our code may read (Konva, Chart, bootstrap).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/**", "staticfiles/**", "node_modules/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, Konva: "readonly", Chart: "readonly", bootstrap: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      // Our code shares nothing through window: modules import what they need.
      "no-restricted-syntax": ["error", {
        selector: "AssignmentExpression > MemberExpression.left[object.name='window']",
        message: "No window.* globals: export from a module instead.",
      }],
      eqeqeq: ["error", "smart"],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
  {
    files: ["tests/js/**/*.mjs", "eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
];

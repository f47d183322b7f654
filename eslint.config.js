// Lint: type-aware typescript-eslint rules, plus the import direction of STYLE.md enforced with
// no-restricted-imports per layer (api/ → zod only; engine port → no Kubernetes; drivers → port + own I/O;
// controllers → api, port, kube — never a driver; kube/ → never controllers or engines).
import js from "@eslint/js";
import stylistic from "@stylistic/eslint-plugin";
import tseslint from "typescript-eslint";

const kubeClient = { name: "@kubernetes/client-node", message: "this layer must not know Kubernetes" };
const layer = (files, patterns, paths = []) => ({
  files,
  ignores: ["**/*.test.ts"],
  rules: { "no-restricted-imports": ["error", { paths, patterns }] },
});

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "coverage/", "charts/", "crds/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  // Prettier lays the code out at 120 columns; what it cannot break (a long string, a comment) is caught here.
  { plugins: { "@stylistic": stylistic }, rules: { "@stylistic/max-len": ["error", { code: 120, tabWidth: 2 }] } },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
  layer(
    ["operator/src/api/**"],
    [
      { regex: "^(?!zod$)(?!\\.{1,2}/)", message: "api/ imports only zod" },
      { regex: "^\\.\\./(?!cim/)", message: "api/ imports only zod, itself and the CIM vocabulary" },
    ],
  ),
  layer(["operator/src/cim/**"], [{ regex: ".*", message: "the CIM vocabulary imports nothing" }]),
  layer(
    ["operator/src/engine/port.ts", "operator/src/engine/errors.ts"],
    [
      { regex: "^\\.\\./(?!cim/)", message: "the engine port imports nothing of Kubernetes" },
      { group: ["./embedded/*", "./wsapi/*"], message: "the engine port imports no driver" },
    ],
    [kubeClient],
  ),
  layer(
    ["operator/src/engine/embedded/**", "operator/src/engine/wsapi/**"],
    [
      { regex: "^\\.\\./\\.\\./(?!cim/)", message: "a driver imports only the port, cim/ and its own I/O" },
      { group: ["../embedded/*", "../wsapi/*"], message: "a driver never imports another driver" },
    ],
    [kubeClient],
  ),
  layer(
    ["operator/src/controllers/**"],
    [
      {
        group: ["**/engine/embedded/*", "**/engine/wsapi/*", "**/engine/registry*"],
        message: "controllers speak to the engine port, never a driver",
      },
    ],
  ),
  layer(
    ["operator/src/kube/**"],
    [{ group: ["**/controllers/*", "**/engine/*"], message: "kube/ never imports controllers or engines" }],
  ),
);

/**
 * The import rules of ARCHITECTURE.md, checked by dependency-cruiser on the real module graph
 * (re-exports, dynamic imports and transitive reach included): `npm run lint:deps`, run by
 * `npm test` and so by CI. test/unit/layers.test.ts plants a violation of each rule in a copy
 * of src/ and expects it refused.
 */
const ADAPTERS = '^src/(postgres|shell|cluster|sandbox)/';
const ADAPTER_PACKAGES = '(^|/)node_modules/(pg|pg-pool|pg-protocol|execa|testcontainers)/|^(net|child_process|node:net|node:child_process)$';
const STEP_SUPPORT = 'types|outputs|registry|fence-modes|fence-undo|routing|upstream|poll|logical|role-fence|platform-hook';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'model-is-data',
      comment: 'model/ is pure data: it imports the model, util and the inventory model only',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/(model|util)/|^src/inventory/(model|dsn)\\.ts$' },
    },
    {
      name: 'decide-is-pure',
      comment: 'decide/ is pure checks on a snapshot: the model, util, the inventory model, itself',
      severity: 'error',
      from: { path: '^src/decide/' },
      to: { path: '^src/', pathNot: '^src/(model|util|decide)/|^src/inventory/(model|dsn)\\.ts$' },
    },
    {
      name: 'pure-all-the-way-down',
      comment: 'model/ and decide/ reach no adapter, however many imports deep',
      severity: 'error',
      from: { path: '^src/(model|decide)/' },
      to: { reachable: true, path: [ADAPTERS, '^src/(runner|routers|steps|procedures)/', ADAPTER_PACKAGES] },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'router-kinds-behind-the-registry',
      comment: 'a router kind is reached only through routers/registry and routers/types (app-login, route-checks are the kinds\' own)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/routers/' },
      to: { path: '^src/routers/', pathNot: '^src/routers/(registry|types)\\.ts$' },
    },
    {
      name: 'procedures-import-no-adapter',
      comment: 'procedures decide and plan; the steps act',
      severity: 'error',
      from: { path: '^src/procedures/' },
      to: { path: [ADAPTERS, '^src/routers/(?!registry\\.ts$|types\\.ts$)', ADAPTER_PACKAGES] },
    },
    {
      name: 'step-kinds-are-independent',
      comment: 'a step kind imports no other step kind; shared code lives in the support modules',
      severity: 'error',
      from: { path: `^src/steps/(?!(${STEP_SUPPORT})\\.ts$)[^/]+\\.ts$` },
      to: { path: `^src/steps/(?!(${STEP_SUPPORT})\\.ts$)` },
    },
    {
      name: 'steps-import-no-procedure',
      severity: 'error',
      from: { path: '^src/steps/' },
      to: { path: '^src/(procedures|runner|cli)/' },
    },
    {
      name: 'routers-import-no-step',
      severity: 'error',
      from: { path: '^src/routers/' },
      to: { path: '^src/(steps|procedures|runner|cli|cluster)/' },
    },
    {
      name: 'adapters-import-no-procedure',
      severity: 'error',
      from: { path: '^src/(postgres|shell)/' },
      to: { path: '^src/(procedures|steps|runner|cli|cluster|routers|decide)/' },
    },
    {
      name: 'inventory-imports-no-adapter',
      comment: 'the inventory is read and checked without a server: no Postgres, process or file adapter',
      severity: 'error',
      from: { path: '^src/inventory/' },
      to: { path: [ADAPTERS, '^src/(runner|steps|procedures|cli)/', ADAPTER_PACKAGES] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

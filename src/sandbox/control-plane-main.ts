/**
 * The stand-in control plane's command line (see control-plane.ts), as the managed sandbox's
 * inventory calls it: `node control-plane-main.js promote|stop|rebuild --dir DIR INSTANCE_ID`.
 */
import { controlPlane } from './control-plane.js';

const [command, flag, dir, id] = process.argv.slice(2);
if (!command || flag !== '--dir' || !dir || !id) {
  process.stderr.write('usage: control-plane-main.js promote|stop|rebuild --dir DIR INSTANCE_ID\n');
  process.exit(2);
}
try {
  const { code, said } = await controlPlane(dir, command, id);
  (code === 0 ? process.stdout : process.stderr).write(`${said}\n`);
  process.exitCode = code;
} catch (error) {
  process.stderr.write(`ERROR: (stand-in) ${(error as Error).message}\n`);
  process.exitCode = 1;
}

/**
 * A testcontainers GenericContainer with what the sandbox needs and its API does not offer:
 * ports published on 127.0.0.1 only (its own bind every interface), and an init process as PID 1
 * (`sleep infinity` under docker-init), so the servers inside can be stopped and started again
 * (a fence, a rejoin) without the container ending with them.
 *
 * testcontainers is imported here, on demand: the CLI bundle keeps it external, and a static
 * import would load it (half a second) on every command.
 */
import type { GenericContainer } from 'testcontainers';

export interface SandboxContainer extends GenericContainer {
  publishOnLoopback(containerPort: number, hostPort: number): this;
}

export async function sandboxContainer(image: string): Promise<SandboxContainer> {
  const { GenericContainer: Base } = await import('testcontainers');
  class Container extends Base implements SandboxContainer {
    constructor() {
      super(image);
      this.hostConfig.Init = true;
    }

    publishOnLoopback(containerPort: number, hostPort: number): this {
      const key = `${containerPort}/tcp`;
      this.createOpts.ExposedPorts = { ...this.createOpts.ExposedPorts, [key]: {} };
      const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {
        [key]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }],
      };
      // @types/dockerode types PortBindings as any: merged as a plain object.
      this.hostConfig.PortBindings = Object.assign({}, this.hostConfig.PortBindings as object | undefined, bindings);
      return this;
    }
  }
  return new Container();
}

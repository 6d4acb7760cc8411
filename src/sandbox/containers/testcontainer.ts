/**
 * A testcontainers GenericContainer with what the sandbox needs and its API does not offer:
 * ports published on 127.0.0.1 only (its own bind every interface), and an init process as PID 1
 * (`sleep infinity` under docker-init), so the servers inside can be stopped and started again
 * (a fence, a rejoin) without the container ending with them.
 */
import { GenericContainer } from 'testcontainers';

export class SandboxContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.Init = true;
  }

  publishOnLoopback(containerPort: number, hostPort: number): this {
    const key = `${containerPort}/tcp`;
    this.createOpts.ExposedPorts = { ...this.createOpts.ExposedPorts, [key]: {} };
    this.hostConfig.PortBindings = { ...this.hostConfig.PortBindings, [key]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] };
    return this;
  }
}

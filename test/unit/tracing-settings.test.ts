/** When traces are on and what is refused (src/observability/tracing.ts), from the OTEL_* variables. */
import { describe, expect, it } from 'vitest';
import { tracingSettingsFromEnv } from '../../src/observability/tracing';
import { UserError } from '../../src/common/errors';

const on = (env: NodeJS.ProcessEnv) => tracingSettingsFromEnv('vldm-worker', env);

describe('tracing settings', () => {
  it('are off without an endpoint, when disabled, or with the exporter "none"', () => {
    expect(on({})).toBeUndefined();
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp' })).toBeUndefined();
    expect(
      on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined();
    expect(
      on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }),
    ).toBeUndefined();
  });

  it('are on with either endpoint variable, the traces one first, and take OTEL_SERVICE_NAME', () => {
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
      endpoint: 'http://c:4318',
      serviceName: 'vldm-worker',
    });
    expect(
      on({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t:4318/v1/traces',
        OTEL_SERVICE_NAME: 'pool-a',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
    ).toEqual({ endpoint: 'https://t:4318/v1/traces', serviceName: 'pool-a' });
  });

  it.each([
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'zipkin' },
      /OTEL_TRACES_EXPORTER must be otlp or none, got "zipkin"/,
    ],
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, /OTEL_TRACES_EXPORTER must be otlp or none, got "jaeger"/],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/json .* got "grpc"/,
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4318' },
      /OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL, got "c:4318"/,
    ],
    [
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' },
      /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http/,
    ],
  ])('refuse %j with one clear line', (env, message) => {
    expect(() => on(env)).toThrow(UserError);
    expect(() => on(env)).toThrow(message);
  });

  it('refuse a user or password in the endpoint without echoing it', () => {
    const err = (() => {
      try {
        on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://me:s3cret@c:4318' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toMatch(
      /must not carry a user or password; put credentials in OTEL_EXPORTER_OTLP_HEADERS/,
    );
    expect(err!.message).not.toContain('s3cret');
  });
});

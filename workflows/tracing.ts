/**
 * Workflow interceptors bundled only when tracing is on (src/observability/tracing.ts), after the
 * OpenTelemetry ones: they name the workflow on its run span (the package's span carries no id), so
 * a trace viewer can find a job's and each segment's run. Deterministic: they only set attributes on
 * a span the sandbox's tracer made; no command, no I/O, no extra yield.
 */
import { trace } from '@opentelemetry/api';
import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      execute(input, next) {
        const info = workflowInfo();
        trace.getActiveSpan()?.setAttributes({
          temporalWorkflowId: info.workflowId,
          temporalWorkflowType: info.workflowType,
          'vldm.job_id': info.workflowId.split('/')[0],
        });
        return next(input);
      },
    },
  ],
});

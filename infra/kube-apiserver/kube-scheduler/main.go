// Command kube-scheduler is the upstream Kubernetes scheduler, unchanged: it only calls the command that
// k8s.io/kubernetes/cmd/kube-scheduler builds, from the same module and pinned version as the API server
// beside it (../go.mod), so the control plane the tests run is one release. See docs/kube-testing.md.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json, as upstream registers it
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream registers them
	_ "k8s.io/component-base/metrics/prometheus/version"  // build-info metric, as upstream registers it
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	command := app.NewSchedulerCommand()
	os.Exit(cli.Run(command))
}

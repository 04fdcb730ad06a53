// Command kube-controller-manager is the upstream Kubernetes controller manager, unchanged: it only calls
// the command that k8s.io/kubernetes/cmd/kube-controller-manager builds, from the same module and pinned
// version as the API server beside it (../go.mod). See docs/kube-testing.md.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones validate without the host zoneinfo, as upstream does

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json, as upstream registers it
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream registers them
	_ "k8s.io/component-base/metrics/prometheus/version"  // build-info metric, as upstream registers it
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	command := app.NewControllerManagerCommand()
	os.Exit(cli.Run(command))
}

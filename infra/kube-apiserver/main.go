// Command kube-apiserver is the upstream Kubernetes API server, unchanged: it only calls the command that
// k8s.io/kubernetes/cmd/kube-apiserver builds, so the binary behaves exactly like the released one at the
// version pinned in go.mod. It exists as a separate module because k8s.io/kubernetes cannot be
// `go install`ed (see go.mod).
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones validate without the host zoneinfo, as upstream does

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json, as upstream registers it
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream registers them
	_ "k8s.io/component-base/metrics/prometheus/version"  // build-info metric, as upstream registers it
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	os.Exit(cli.Run(command))
}

package images

import (
	"fmt"
	"os"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// DefaultCABundle is the host's CA bundle on Debian and Ubuntu.
const DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"

// EnvHostCA names the variable that sets the CA bundle builds (and tasks
// that ask) get: a path, or "off" for none.
const EnvHostCA = "TEROK_HOST_CA"

// CABundleFromEnv returns the CA bundle setting from getenv: the
// variable's path, "" when it says off, else DefaultCABundle when that
// file exists (else "").
func CABundleFromEnv(getenv func(string) string) string {
	switch v := getenv(EnvHostCA); v {
	case "off", "none":
		return ""
	case "":
		if _, err := os.Stat(DefaultCABundle); err == nil {
			return DefaultCABundle
		}
		return ""
	default:
		return v
	}
}

// TaskCAPath is where a task of a project with host_ca: tasks finds the
// host's CA bundle (mounted read-only).
const TaskCAPath = "/etc/terok/host-ca.pem"

// TaskCA returns what a task of a project with spec gets so that tools
// inside it trust what the host trusts: a read-only mount of bundle at
// TaskCAPath and the variables that point Node.js, OpenSSL, curl, git,
// Python and pip at it. The host's bundle is a whole bundle (the public
// roots and the proxy's CA), so the variables that replace a tool's own
// roots lose nothing. It returns nothing unless spec asks (host_ca:
// tasks) and a bundle is set.
func TaskCA(bundle string, spec Spec) (*podmanapi.Mount, map[string]string, error) {
	if spec.CAMode() != CATasks || bundle == "" {
		return nil, nil, nil
	}
	if st, err := os.Stat(bundle); err != nil || !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("host_ca: tasks: the CA bundle %s is not a readable file (set %s to the bundle, or host_ca: build)", bundle, EnvHostCA)
	}
	m := &podmanapi.Mount{Destination: TaskCAPath, Type: "bind", Source: bundle, Options: []string{"rbind", "ro"}}
	env := map[string]string{
		"NODE_EXTRA_CA_CERTS": TaskCAPath, // Node.js, Bun: in addition to their own roots
		"SSL_CERT_FILE":       TaskCAPath, // OpenSSL and what uses it (curl, git, Python's ssl)
		"CURL_CA_BUNDLE":      TaskCAPath,
		"GIT_SSL_CAINFO":      TaskCAPath,
		"REQUESTS_CA_BUNDLE":  TaskCAPath, // Python requests
		"PIP_CERT":            TaskCAPath,
	}
	return m, env, nil
}

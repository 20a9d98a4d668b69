package images

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// DefaultRegistry is the npm registry versions are resolved against.
const DefaultRegistry = "https://registry.npmjs.org"

// Resolver turns a package's version range into the exact version a
// build installs.
type Resolver interface {
	Resolve(ctx context.Context, pkg, rng string) (string, error)
}

// NPM resolves versions against an npm registry's package metadata.
type NPM struct {
	// Registry is the registry's base URL (DefaultRegistry when empty).
	Registry string
	// Client sends the requests (a client trusting CABundle when nil).
	Client *http.Client
}

// NewNPM returns a resolver for registry whose TLS trusts the system's
// roots plus the PEM bundle at caBundle ("" for none): behind a
// TLS-inspecting proxy the registry's certificate is signed by the
// proxy's CA.
func NewNPM(registry, caBundle string) (*NPM, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caBundle != "" {
		b, err := os.ReadFile(caBundle)
		if err != nil {
			return nil, fmt.Errorf("read the CA bundle %s: %w", caBundle, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("the CA bundle %s holds no PEM certificate: give a PEM file such as /etc/ssl/certs/ca-certificates.crt", caBundle)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &NPM{Registry: registry, Client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// packument is the abbreviated metadata of a package.
type packument struct {
	DistTags map[string]string          `json:"dist-tags"`
	Versions map[string]json.RawMessage `json:"versions"`
}

// Resolve asks the registry for pkg's versions and returns the one npm
// would install for rng: the "latest" tag when it satisfies the range,
// else the highest satisfying version (pre-releases only when the range
// names one).
func (n *NPM) Resolve(ctx context.Context, pkg, rng string) (string, error) {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return "", fmt.Errorf("%s@%s: not a version or range: %v", pkg, rng, err)
	}
	reg := n.Registry
	if reg == "" {
		reg = DefaultRegistry
	}
	u := strings.TrimRight(reg, "/") + "/" + strings.Replace(url.PathEscape(pkg), "%40", "@", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("resolve %s@%s: %w", pkg, rng, err)
	}
	req.Header.Set("Accept", "application/vnd.npm.install-v1+json")
	cl := n.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return "", fmt.Errorf("resolve %s@%s: ask %s: %w (is the registry reachable, and the CA bundle right when a proxy inspects TLS?)", pkg, rng, reg, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", fmt.Errorf("resolve %s@%s: %s has no package %s: check package.npm in the recipe", pkg, rng, reg, pkg)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("resolve %s@%s: %s answered %s: %s", pkg, rng, reg, resp.Status, strings.TrimSpace(string(b)))
	}
	var p packument
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&p); err != nil {
		return "", fmt.Errorf("resolve %s@%s: read %s's answer: %w", pkg, rng, reg, err)
	}
	return pick(p, c, pkg, rng)
}

func pick(p packument, c *semver.Constraints, pkg, rng string) (string, error) {
	if l, ok := p.DistTags["latest"]; ok {
		if v, err := semver.StrictNewVersion(l); err == nil && c.Check(v) {
			if _, ok := p.Versions[l]; ok {
				return l, nil
			}
		}
	}
	var vs []*semver.Version
	for s := range p.Versions {
		if v, err := semver.StrictNewVersion(s); err == nil && c.Check(v) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return "", fmt.Errorf("resolve %s@%s: no published version satisfies %q (latest is %s): widen package.version in the recipe", pkg, rng, rng, p.DistTags["latest"])
	}
	sort.Sort(semver.Collection(vs))
	return vs[len(vs)-1].Original(), nil
}

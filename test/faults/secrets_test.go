package faults_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/test/testenv"
)

// authRegistry starts docker-registry on 127.0.0.1 with htpasswd (bcrypt) basic auth for
// user:password, storing in a temporary directory it returns with its host:port.
func authRegistry(t *testing.T, user, password string) (host, storage string) {
	t.Helper()
	bin := testenv.LookPath(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	host, storage = testenv.FreeAddr(t), filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "config.yml")
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
auth:
  htpasswd:
    realm: cairn-faults
    path: %s
http:
  addr: %s
  secret: not-a-secret-of-the-test
`, storage, htpasswd, host)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfg)
	logs := &testenv.SyncBuffer{} // a push's 404s are logged as errors: shown only if the test fails
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting docker-registry: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("docker-registry:\n%s", logs)
		}
	})
	testenv.WaitHTTP(t, "http://"+host+"/v2/", 20*time.Second)
	return host, storage
}

// TestSecretsStayOut releases and pushes with secrets in the environment (COSIGN_PASSWORD,
// registry credentials in the Docker config and in variables, tokens) and searches every
// output file, the logs and the registry's storage for each, raw and base64-encoded.
func TestSecretsStayOut(t *testing.T) {
	const user, password = "cairn-pusher", "faults-registry-password-93be51"
	host, storage := authRegistry(t, user, password)

	dockerConfig := t.TempDir()
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	if err := os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+basic+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mod := newModule(t, t.TempDir())
	cmd := releaseCmd(t, mod, fixtureVersion)
	cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+dockerConfig, "REGISTRY_PASSWORD="+password, "CAIRN_REGISTRY_AUTH="+basic)
	releaseLog, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("release: %v\n%s", err, releaseLog)
	}
	dist := filepath.Join(mod, "dist")

	// Without credentials the registry refuses: the push below really authenticates.
	if _, err := push.Dist(context.Background(), dist, host+"/anon", push.Options{Backoff: pushOptions.Backoff}); err == nil {
		t.Fatalf("push without credentials succeeded: the registry does not check them")
	}
	// As `go tool mage push`: credentials from the Docker config.
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	var pushLog bytes.Buffer
	if _, err := push.Dist(context.Background(), dist, host+"/cairn", push.Options{Log: &pushLog}); err != nil {
		t.Fatalf("push with the Docker config's credentials: %v", err)
	}

	secrets := map[string]string{
		"COSIGN_PASSWORD":     cosignPassword,
		"registry password":   password,
		"registry basic auth": basic,
		"env secret":          envSecret,
	}
	for name, s := range map[string]string{"COSIGN_PASSWORD": cosignPassword, "registry password": password, "env secret": envSecret} {
		secrets[name+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(s))
		secrets[name+" (base64, unpadded)"] = base64.RawStdEncoding.EncodeToString([]byte(s))
	}
	scanned, found := 0, 0
	hits := func(data []byte) []string {
		var names []string
		for name, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				names = append(names, name)
			}
		}
		return names
	}
	scan := func(what string, data []byte) {
		scanned++
		for _, name := range hits(data) {
			found++
			t.Errorf("%s contains the %s", what, name)
		}
	}
	// The control: the scan finds the secret where it is (the Docker config).
	if cfg, _ := os.ReadFile(filepath.Join(dockerConfig, "config.json")); len(hits(cfg)) == 0 {
		t.Fatal("the scan does not find the registry credentials in the Docker config")
	}
	for _, root := range []string{dist, storage} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			scan(p, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	scan("the release log", releaseLog)
	scan("the push log", pushLog.Bytes())
	t.Logf("secrets: %d files and logs scanned for %d encodings of secrets; found %d", scanned, len(secrets), found)
	if scanned < 20 || !strings.Contains(pushLog.String(), host) {
		t.Errorf("scanned %d files (push log %q): want the whole dist/ and the registry storage", scanned, pushLog.String())
	}
}

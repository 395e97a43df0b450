package targets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cairn-iot/cairn/platform/tlsfiles/devca"
)

// CertsDir is where the development certificates are written, beside .cairn/data of
// `go tool mage run`.
const CertsDir = ".cairn/certs"

// CertsDev makes the development PKI in dir: a CA (ca.pem, ca-key.pem), kept once made, and
// a server certificate for localhost and 127.0.0.1 signed by it (server.pem,
// server-key.pem), made again each time. For development only: production certificates
// come from a real CA.
func CertsDev(dir string, out io.Writer) error {
	ca, err := loadOrMakeCA(dir)
	if err != nil {
		return err
	}
	cert, key, err := ca.IssueFiles(dir, "server", devca.Request{CommonName: "cairn", Hosts: []string{"localhost", "127.0.0.1", "::1"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CA %s\nserver certificate %s, key %s (localhost, 127.0.0.1)\n\nrun:  CAIRN_TLS_CERT=%s CAIRN_TLS_KEY=%s CAIRN_TLS_CLIENT_CA=%s go tool mage run\n",
		filepath.Join(dir, devca.CACert), cert, key, cert, key, filepath.Join(dir, devca.CACert))
	return nil
}

// CertsThing issues the thing id a client certificate (Subject CN = id) from the CA in dir
// (made if absent): thing-<id>.pem and thing-<id>-key.pem.
func CertsThing(dir, id string, out io.Writer) error {
	if id == "" {
		return errors.New("certs:thing needs the thing's id (GET /things lists them): go tool mage certs:thing <id>")
	}
	ca, err := loadOrMakeCA(dir)
	if err != nil {
		return err
	}
	cert, key, err := ca.IssueFiles(dir, "thing-"+id, devca.Request{CommonName: id})
	if err != nil {
		return err
	}
	caFile := filepath.Join(dir, devca.CACert)
	fmt.Fprintf(out, "thing %s: certificate %s, key %s\n\nmosquitto_pub -h localhost -p 8883 --cafile %s --cert %s --key %s -t channels/<channel id>/messages -m hello\ncurl --cacert %s --cert %s --key %s -d hello https://localhost:8080/channels/<channel id>/messages\n",
		id, cert, key, caFile, cert, key, caFile, cert, key)
	return nil
}

func loadOrMakeCA(dir string) (*devca.CA, error) {
	ca, err := devca.Load(dir)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the development CA in %s: %w (remove the directory to start a new one)", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if ca, err = devca.New("Cairn development CA"); err != nil {
		return nil, err
	}
	return ca, ca.Write(dir)
}

package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyCache parses identity files once per Client.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]parsedKey
}

type parsedKey struct {
	signer    xssh.Signer    // nil when encrypted
	publicKey xssh.PublicKey // of an encrypted key, from its .pub file (may be nil)
	encrypted bool
}

// load reads one private key file. An encrypted key yields encrypted=true and,
// when path.pub exists, its public key (so the agent's copy can stand in).
func (kc *keyCache) load(path string) (parsedKey, error) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if k, ok := kc.keys[path]; ok {
		return k, nil
	}
	if err := checkKeyFileMode(path); err != nil {
		return parsedKey{}, err
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return parsedKey{}, fmt.Errorf("reading identity file %s: %w", path, err)
	}
	var k parsedKey
	signer, err := xssh.ParsePrivateKey(pem)
	var missing *xssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		k.encrypted = true
		k.publicKey = missing.PublicKey
		if k.publicKey == nil {
			if pub, err := os.ReadFile(path + ".pub"); err == nil {
				k.publicKey, _, _, _, _ = xssh.ParseAuthorizedKey(pub)
			}
		}
	case err != nil:
		return parsedKey{}, fmt.Errorf("parsing identity file %s: %w (want an OpenSSH or PEM private key)", path, err)
	default:
		k.signer = signer
	}
	if kc.keys == nil {
		kc.keys = map[string]parsedKey{}
	}
	kc.keys[path] = k
	return k, nil
}

// authSetup is the result of gathering credentials for one dial.
type authSetup struct {
	signers []xssh.Signer
	tried   []string // human-readable list for the failure hint
	closer  net.Conn // the agent connection, closed after the handshake
}

// gatherAuth collects signers: explicit identity files first (as OpenSSH does),
// then the agent's keys. explicit says whether files were configured (an
// encrypted or missing configured file is an error; default files are skipped).
func (c *Client) gatherAuth(files []string, explicit bool) (authSetup, error) {
	var a authSetup
	var agentSigners []xssh.Signer
	sock := c.opts.AgentSocket
	if sock == "" && !c.opts.NoAgent {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" && !c.opts.NoAgent {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			a.tried = append(a.tried, fmt.Sprintf("ssh-agent at %s (unreachable: %v)", sock, err))
		} else {
			a.closer = conn
			agentSigners, err = agent.NewClient(conn).Signers()
			if err != nil {
				a.tried = append(a.tried, fmt.Sprintf("ssh-agent at %s (listing keys failed: %v)", sock, err))
			} else {
				a.tried = append(a.tried, fmt.Sprintf("ssh-agent at %s (%d keys)", sock, len(agentSigners)))
			}
		}
	}
	for _, f := range files {
		k, err := c.keys.load(f)
		if err != nil {
			if !explicit && errors.Is(err, os.ErrNotExist) {
				continue
			}
			var perm *UnprotectedKeyError
			if !explicit && errors.As(err, &perm) {
				// OpenSSH ignores such a default key with its warning and goes on.
				a.tried = append(a.tried, "identity file "+f+" (ignored: permissions "+fmt.Sprintf("%#o", perm.Mode)+" are too open; chmod 600 "+f+")")
				continue
			}
			a.close()
			return authSetup{}, err
		}
		if !k.encrypted {
			a.signers = append(a.signers, k.signer)
			a.tried = append(a.tried, "identity file "+f)
			continue
		}
		if k.publicKey != nil && agentHas(agentSigners, k.publicKey) {
			a.tried = append(a.tried, "identity file "+f+" (encrypted; using the agent's copy)")
			continue // the agent signer is added below
		}
		if explicit {
			a.close()
			return authSetup{}, fmt.Errorf("identity file %s is encrypted with a passphrase, and tikv-ear never prompts\n"+
				"hint: load it into ssh-agent (`ssh-add %s`) and make sure SSH_AUTH_SOCK is set for tikv-ear, or use a key without a passphrase kept for automation", f, f)
		}
		a.tried = append(a.tried, "identity file "+f+" (skipped: encrypted and not in ssh-agent; run `ssh-add "+f+"`)")
	}
	a.signers = append(a.signers, agentSigners...)
	return a, nil
}

func (a authSetup) close() {
	if a.closer != nil {
		a.closer.Close()
	}
}

func agentHas(signers []xssh.Signer, pub xssh.PublicKey) bool {
	want := pub.Marshal()
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), want) {
			return true
		}
	}
	return false
}

// defaultIdentityFiles are OpenSSH's default keys that tikv-ear can use.
func defaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

// authHint explains a publickey failure.
func authHint(user, host string, tried []string) string {
	if len(tried) == 0 {
		tried = []string{"nothing: no ssh-agent (SSH_AUTH_SOCK unset) and no identity file"}
	}
	return fmt.Sprintf("hint: tried %s; check that one of these public keys is in ~%s/.ssh/authorized_keys on %s, or set IdentityFile in ~/.ssh/config",
		strings.Join(tried, ", "), user, host)
}

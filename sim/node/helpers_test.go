package node

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// fakePD records what the node reports.
type fakePD struct {
	mu         sync.Mutex
	heartbeats int
	stopped    int
}

func (p *fakePD) StoreHeartbeat(uint64, string, string, time.Time) {
	p.mu.Lock()
	p.heartbeats++
	p.mu.Unlock()
}
func (p *fakePD) StoreStopped(uint64)           { p.mu.Lock(); p.stopped++; p.mu.Unlock() }
func (p *fakePD) StoreCounts(uint64) (int, int) { return 3, 7 }

// env is one node under test with its directories.
type env struct {
	t    *testing.T
	dir  string
	spec Spec
	pd   *fakePD
	node *Node
	clk  *clock.Clock
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newEnv(t *testing.T, version string, speed float64) *env {
	t.Helper()
	dir := t.TempDir()
	spec := Spec{
		StoreID: 1, Version: version, GitHash: "abc",
		Addr: freeAddr(t), StatusAddr: freeAddr(t),
		ConfigPath: filepath.Join(dir, "conf", "tikv.toml"),
		DataDir:    filepath.Join(dir, "data"),
		LogFile:    filepath.Join(dir, "log", "tikv.log"),
		RaftEngine: true,
	}
	if err := os.MkdirAll(filepath.Dir(spec.ConfigPath), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, spec: spec, pd: &fakePD{}, clk: clock.New(speed)}
	e.node = New(spec, e.clk, e.pd)
	t.Cleanup(e.node.Stop)
	return e
}

func (e *env) rebuild() {
	e.node.Stop()
	e.node = New(e.spec, e.clk, e.pd)
	e.t.Cleanup(e.node.Stop)
}

func (e *env) writeConfig(body string) {
	e.t.Helper()
	if err := os.WriteFile(e.spec.ConfigPath, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// newKey writes a valid 65-byte file key (0400) and returns its path and bytes.
func (e *env) newKey(name string) (string, []byte) {
	e.t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o400); err != nil {
		e.t.Fatal(err)
	}
	return path, key
}

func fileKeyConfig(method, keyPath string) string {
	return fmt.Sprintf("[security.encryption]\ndata-encryption-method = %q\n[security.encryption.master-key]\ntype = \"file\"\npath = %q\n", method, keyPath)
}

func (e *env) logText() string {
	b, _ := os.ReadFile(e.spec.LogFile)
	return string(b)
}

func (e *env) stderrText() string {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(e.spec.LogFile), "tikv_stderr.log"))
	return string(b)
}

func (e *env) mustStart() {
	e.t.Helper()
	if err := e.node.Start(context.Background()); err != nil {
		e.t.Fatalf("start: %v\nlog:\n%s", err, e.logText())
	}
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := http.Get("http://" + e.spec.StatusAddr + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// ---- an independent minimal reader of TiKV's formats (tikv-encryption.md §5.1) ----

// readHeader parses the 16-byte header and checks the crc.
func readHeader(t *testing.T, b []byte) (byte, []byte, []byte) {
	t.Helper()
	if len(b) < 16 {
		t.Fatalf("dictionary of %d bytes has no header", len(b))
	}
	if b[1] != 0 || b[2] != 0 || b[3] != 0 {
		t.Fatalf("reserved header bytes are not zero: % x", b[1:4])
	}
	n := binary.BigEndian.Uint64(b[8:16])
	content := b[16 : 16+n]
	if got, want := crc32.ChecksumIEEE(content), binary.BigEndian.Uint32(b[4:8]); got != want {
		t.Fatalf("crc32 %08x, header says %08x", got, want)
	}
	return b[0], content, b[16+n:]
}

// readKeyDict decrypts key.dict with key (nil for a plaintext master key).
func readKeyDict(t *testing.T, dataDir string, key []byte) (*encryptionpb.EncryptedContent, *encryptionpb.KeyDictionary) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "key.dict"))
	if err != nil {
		t.Fatal(err)
	}
	v, content, rest := readHeader(t, b)
	if v != 1 || len(rest) != 0 {
		t.Fatalf("key.dict version %d with %d trailing bytes, want V1 and none", v, len(rest))
	}
	var ec encryptionpb.EncryptedContent
	if err := ec.Unmarshal(content); err != nil {
		t.Fatal(err)
	}
	plain := ec.Content
	if key != nil {
		if string(ec.Metadata["method"]) != "aes256-gcm" || len(ec.Metadata["iv"]) != 12 || len(ec.Metadata["aes_gcm_tag"]) != 16 {
			t.Fatalf("key.dict metadata is not AES-256-GCM: %q", ec.Metadata["method"])
		}
		block, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCM(block)
		plain, err = g.Open(nil, ec.Metadata["iv"], append(append([]byte(nil), ec.Content...), ec.Metadata["aes_gcm_tag"]...), nil)
		if err != nil {
			t.Fatalf("key.dict does not open with the test's key: %v", err)
		}
	}
	var kd encryptionpb.KeyDictionary
	if err := kd.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	return &ec, &kd
}

// readFileDict parses file.dict V2 (or V1) and replays its records.
func readFileDict(t *testing.T, dataDir string) (byte, map[string]*encryptionpb.FileInfo) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "file.dict"))
	if err != nil {
		t.Fatal(err)
	}
	v, content, rest := readHeader(t, b)
	var fd encryptionpb.FileDictionary
	if v == 1 {
		var ec encryptionpb.EncryptedContent
		if err := ec.Unmarshal(content); err != nil {
			t.Fatal(err)
		}
		if string(ec.Metadata["method"]) != "plaintext" {
			t.Fatalf("file.dict V1 metadata method %q", ec.Metadata["method"])
		}
		content = ec.Content
	}
	if err := fd.Unmarshal(content); err != nil {
		t.Fatal(err)
	}
	files := fd.Files
	if files == nil {
		files = map[string]*encryptionpb.FileInfo{}
	}
	for len(rest) > 0 {
		if len(rest) < 9 {
			t.Fatalf("torn record of %d bytes", len(rest))
		}
		nl, il := int(binary.BigEndian.Uint16(rest[4:6])), int(binary.BigEndian.Uint16(rest[6:8]))
		body := rest[9 : 9+nl+il]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(rest[0:4]) {
			t.Fatal("record crc mismatch")
		}
		name := string(body[:nl])
		switch rest[8] {
		case 1:
			var fi encryptionpb.FileInfo
			if err := fi.Unmarshal(body[nl:]); err != nil {
				t.Fatal(err)
			}
			files[name] = &fi
		case 2:
			delete(files, name)
		default:
			t.Fatalf("record type %d", rest[8])
		}
		rest = rest[9+nl+il:]
	}
	return v, files
}

// readKeyDictRaw returns key.dict's EncryptedContent without decrypting it.
func readKeyDictRaw(t *testing.T, dataDir string) (*encryptionpb.EncryptedContent, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "key.dict"))
	if err != nil {
		t.Fatal(err)
	}
	_, content, _ := readHeader(t, b)
	var ec encryptionpb.EncryptedContent
	if err := ec.Unmarshal(content); err != nil {
		t.Fatal(err)
	}
	return &ec, content
}

// counts returns heartbeats and stops seen so far.
func (p *fakePD) counts() (heartbeats, stopped int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heartbeats, p.stopped
}

package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// PD is what a node reports to; *pd.Cluster in sim/pd implements it.
type PD interface {
	StoreHeartbeat(id uint64, version, gitHash string, start time.Time)
	StoreStopped(id uint64)
	StoreCounts(id uint64) (leaders, regions int)
}

// Spec describes one TiKV process.
type Spec struct {
	StoreID           uint64
	Version           string // TiKV version it plays, e.g. "8.5.2", "6.1.2"
	GitHash           string
	Addr, StatusAddr  string // 127.0.0.1:port each; both listen while running
	ConfigPath        string // tikv.toml, read at every start
	DataDir           string // --data-dir (overrides storage.data-dir)
	LogFile           string // <log_dir>/tikv.log; stderr goes to <log_dir>/tikv_stderr.log
	RaftEngine        bool   // Raft Engine enabled with data present (default on from 6.1)
	SM4Build          bool   // statically linked OpenSSL (sm4 feature); false => sm4-ctr fails
	HeartbeatInterval time.Duration
	// GCPKMSEndpoint replaces TiKV's hard-coded https://cloudkms.googleapis.com/v1/
	// (name resolution on an offline machine); "" keeps it. Ends in "/v1/".
	GCPKMSEndpoint string
	// AzureAuthorityHost replaces the Microsoft Entra authority the same way; "" keeps it.
	AzureAuthorityHost string
	// CloudCAFile is a PEM bundle the node trusts for cloud KMS calls (an offline fake's certificate).
	CloudCAFile string
}

// Node is one simulated TiKV server process. It is safe for concurrent use.
type Node struct {
	spec    Spec
	clk     *clock.Clock
	pd      PD
	log     *logger
	dataDir string

	life      sync.Mutex // serialises Start, Stop and crashes
	mu        sync.Mutex // guards the fields below
	gen       int        // process generation, bumped at every successful start
	running   bool
	startTime time.Time
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	listener  net.Listener
	status    *http.Server
	mgr       *manager
	cfg       *config
	metrics   *metrics
	version   semver // version of the running (or last started) process

	dataMu sync.Mutex // serialises the background writer and CompactKV over the data files

	faultMu     sync.Mutex
	failNext    string
	slowStart   time.Duration
	diskPrefix  string
	kmsDownFlag bool
}

// New returns a stopped node.
func New(spec Spec, clk *clock.Clock, pd PD) *Node {
	if spec.HeartbeatInterval <= 0 {
		spec.HeartbeatInterval = 10 * time.Second
	}
	n := &Node{spec: spec, clk: clk, pd: pd, dataDir: spec.DataDir, metrics: newMetrics()}
	n.log = &logger{
		path:       spec.LogFile,
		stderrPath: filepath.Join(filepath.Dir(spec.LogFile), "tikv_stderr.log"),
		clk:        clk,
		full:       n.diskFull,
	}
	return n
}

// FailNextStart makes the next Start log fatal at FATAL and fail.
func (n *Node) FailNextStart(fatal string) {
	n.faultMu.Lock()
	n.failNext = fatal
	n.faultMu.Unlock()
}

// SetSlowStart makes Start take d (sim time) before listening.
func (n *Node) SetSlowStart(d time.Duration) {
	n.faultMu.Lock()
	n.slowStart = d
	n.faultMu.Unlock()
}

// SetDiskFull makes writes under pathPrefix fail with ENOSPC; "" clears the fault.
func (n *Node) SetDiskFull(pathPrefix string) {
	n.faultMu.Lock()
	n.diskPrefix = pathPrefix
	n.faultMu.Unlock()
}

// SetKMSUnreachable makes every KMS call fail while on.
func (n *Node) SetKMSUnreachable(on bool) {
	n.faultMu.Lock()
	n.kmsDownFlag = on
	n.faultMu.Unlock()
}

func (n *Node) diskFull(path string) bool {
	n.faultMu.Lock()
	defer n.faultMu.Unlock()
	return n.diskPrefix != "" && strings.HasPrefix(path, n.diskPrefix)
}

func (n *Node) kmsDown() bool {
	n.faultMu.Lock()
	defer n.faultMu.Unlock()
	return n.kmsDownFlag
}

// Running reports whether the process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running
}

// StartTime is the sim time of the last successful start.
func (n *Node) StartTime() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.startTime
}

// Start runs TiKV's startup synchronously. On failure the FATAL/ERROR lines are
// in tikv.log (and FATAL in tikv_stderr.log), nothing listens, and the error says why.
func (n *Node) Start(ctx context.Context) error {
	n.life.Lock()
	defer n.life.Unlock()
	if n.Running() {
		return fmt.Errorf("store %d is already running", n.spec.StoreID)
	}
	n.faultMu.Lock()
	fail, slow := n.failNext, n.slowStart
	n.failNext = ""
	n.faultMu.Unlock()
	if slow > 0 && !n.clk.Sleep(ctx, slow) {
		return fmt.Errorf("starting store %d: %w", n.spec.StoreID, ctx.Err())
	}
	if fail != "" {
		n.log.logf("FATAL", "server.rs:100", threadMain, fail)
		return fmt.Errorf("store %d exited: %s", n.spec.StoreID, fail)
	}
	v := parseVersion(n.spec.Version)
	n.mu.Lock()
	n.version = v
	n.mu.Unlock()
	n.log.setVersion(tikv.Version{Major: v[0], Minor: v[1], Patch: v[2]})
	cfg, err := loadConfig(n.spec.ConfigPath, v)
	if err != nil {
		// Panics before the logger exists: only stderr (cmd/tikv-server/src/main.rs).
		msg := fmt.Sprintf("invalid auto generated configuration file %s, err %s", n.spec.ConfigPath, err)
		n.log.stderr(msg)
		return fmt.Errorf("store %d exited: %s", n.spec.StoreID, msg)
	}
	// The logger exists from here: every start attempt opens with this line (src/lib.rs log_tikv_info).
	n.log.catalogue(tikvlog.MsgWelcome, "", threadMain)
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return fmt.Errorf("creating data dir %s: %w", n.dataDir, err)
	}
	n.mu.Lock()
	n.metrics = newMetrics() // a new process starts with fresh gauges
	n.mu.Unlock()
	mgr, e := n.initEncryption(ctx, cfg, v, n.dataDir)
	if e != nil {
		msg := tikv.EncryptionInitFailed(e.Error(), e.code())
		if _, ok := n.log.wording(tikvlog.MsgEncryptionInitFailed); !ok {
			// v4.0.x unwraps the error (cmd/src/server.rs init_encryption): the panic hook logs
			// Rust's "called `Result::unwrap()` on an `Err` value: {:?}". The sim writes the
			// error's Display text where Rust writes its Debug form.
			msg = "called `Result::unwrap()` on an `Err` value: " + e.Error()
			n.log.logf("FATAL", srcLine(tikvlog.MsgEncryptionInitFailed.Name, "components/tikv_util/src/lib.rs"), threadMain, msg,
				field{"location", "cmd/src/server.rs:328"}, field{"thread_name", "main"})
			return fmt.Errorf("store %d exited: %s", n.spec.StoreID, msg)
		}
		n.log.catalogue(tikvlog.MsgEncryptionInitFailed, strings.TrimPrefix(msg, tikvlog.MsgEncryptionInitFailed.Text), threadMain)
		return fmt.Errorf("store %d exited: %s", n.spec.StoreID, msg)
	}
	if err := n.openEngines(mgr, cfg, v); err != nil {
		return err
	}
	if err := n.listen(); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.Background())
	n.mu.Lock()
	n.cancel, n.mgr, n.cfg = cancel, mgr, cfg
	n.running = true
	n.gen++
	gen := n.gen
	n.startTime = n.clk.Now()
	start := n.startTime
	n.mu.Unlock()
	n.pd.StoreHeartbeat(n.spec.StoreID, n.spec.Version, n.spec.GitHash, start)
	n.wg.Add(2)
	go n.heartbeatLoop(bg)
	go n.dataLoop(bg, mgr)
	if mgr != nil {
		n.wg.Add(1)
		go n.rotateLoop(bg, mgr, gen)
	}
	return nil
}

// openEngines opens Raft Engine and RocksDB: the Raft Engine bug of v5.4.0–v6.1.x
// and a crypter the build lacks (sm4) fail here, after encryption init.
func (n *Node) openEngines(m *manager, cfg *config, v semver) error {
	if m != nil && n.spec.RaftEngine && v.raftEngineBug() && len(n.plaintextRaftLogs(m)) > 0 {
		n.log.catalogue(tikvlog.MsgRaftEngineOpenFailed, tikv.ErrRaftEngineNonce, threadMain)
		return fmt.Errorf("store %d exited: %s", n.spec.StoreID, n.log.text(tikvlog.MsgRaftEngineOpenFailed, tikv.ErrRaftEngineNonce))
	}
	if m != nil && cfg.method == tikv.MethodSM4CTR && !n.spec.SM4Build {
		inner := (&encErr{kind: kindOther, msg: boxErr(srcIORs, 391, tikv.ErrSM4Dynamic)}).Error()
		if n.spec.RaftEngine {
			n.log.catalogue(tikvlog.MsgRaftEngineOpenFailed, inner, threadMain)
			return fmt.Errorf("store %d exited: %s", n.spec.StoreID, n.log.text(tikvlog.MsgRaftEngineOpenFailed, inner))
		}
		n.log.logf("FATAL", srcLine(tikvlog.MsgRaftEngineOpenFailed.Name, "components/tikv_util/src/lib.rs"), threadMain, inner)
		return fmt.Errorf("store %d exited: %s", n.spec.StoreID, inner)
	}
	if err := n.prepareData(m); err != nil {
		return fmt.Errorf("store %d: preparing data files: %w", n.spec.StoreID, err)
	}
	return nil
}

// listen binds the gRPC address (a plain TCP listener) and the status server.
func (n *Node) listen() error {
	ln, err := net.Listen("tcp", n.spec.Addr)
	if err != nil {
		return fmt.Errorf("store %d: listening on %s: %w", n.spec.StoreID, n.spec.Addr, err)
	}
	sl, err := net.Listen("tcp", n.spec.StatusAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("store %d: listening on status address %s: %w", n.spec.StoreID, n.spec.StatusAddr, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", n.handleMetrics)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /config", n.handleConfig)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(sl) }()
	n.mu.Lock()
	n.listener, n.status = ln, srv
	n.mu.Unlock()
	return nil
}

func (n *Node) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	leaders, regions := n.pd.StoreCounts(n.spec.StoreID)
	n.mu.Lock()
	m := n.metrics
	n.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(m.render(leaders, regions)))
}

func (n *Node) handleConfig(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	if cfg == nil {
		http.Error(w, "no config", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(cfg.configJSON())
}

func (n *Node) heartbeatLoop(ctx context.Context) {
	defer n.wg.Done()
	t := n.clk.NewTicker(n.spec.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.pd.StoreHeartbeat(n.spec.StoreID, n.spec.Version, n.spec.GitHash, n.StartTime())
		}
	}
}

// dataLoop is the background flush + compaction writer (every 30s sim).
func (n *Node) dataLoop(ctx context.Context, m *manager) {
	defer n.wg.Done()
	t := n.clk.NewTicker(30 * time.Second)
	defer t.Stop()
	for step := 0; ; step++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.flushAndCompact(m, step)
		}
	}
}

// rotateLoop is run_background_rotate_work on the "enc:key" thread: it ticks every
// min(600s, period) and panics on a rotation error (tikv-encryption.md §2.1, §2.3).
func (n *Node) rotateLoop(ctx context.Context, m *manager, gen int) {
	defer n.wg.Done()
	period := min(600*time.Second, m.rotation)
	if period <= 0 {
		period = time.Second // 0s is UNCONFIRMED upstream; the sim ticks every sim second
	}
	t := n.clk.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			n.log.catalogue(tikvlog.MsgRotateWorkerCancelled, "", threadEncKey)
			return
		case <-t.C:
			n.log.catalogue(tikvlog.MsgTryRotateDataKey, tikv.MethodDebugName(m.method), threadEncKey)
			if e := m.maybeRotate(ctx, n.clk.Now(), threadEncKey); e != nil {
				// .expect("Rotating key operation encountered error in the background worker")
				n.log.logf("FATAL", "mod.rs:608", threadEncKey,
					"Rotating key operation encountered error in the background worker: "+e.Error())
				go n.crash(gen)
				return
			}
		}
	}
}

// crash ends process generation gen after a background panic.
func (n *Node) crash(gen int) {
	n.life.Lock()
	defer n.life.Unlock()
	n.mu.Lock()
	same := n.gen == gen
	n.mu.Unlock()
	if same {
		n.shutdown(false)
	}
}

// Stop shuts the process down gracefully.
func (n *Node) Stop() {
	n.life.Lock()
	defer n.life.Unlock()
	n.shutdown(true)
}

// shutdown stops background work and listeners; n.life is held.
func (n *Node) shutdown(graceful bool) {
	n.mu.Lock()
	if !n.running {
		n.mu.Unlock()
		return
	}
	n.running = false
	cancel, ln, srv := n.cancel, n.listener, n.status
	n.listener, n.status, n.mgr = nil, nil, nil
	n.mu.Unlock()
	cancel()
	n.wg.Wait()
	if ln != nil {
		ln.Close()
	}
	if srv != nil {
		if graceful {
			ctx, cancelShutdown := context.WithTimeout(context.Background(), time.Second)
			_ = srv.Shutdown(ctx)
			cancelShutdown()
		}
		_ = srv.Close()
	}
	n.pd.StoreStopped(n.spec.StoreID)
}

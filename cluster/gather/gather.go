package gather

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/cluster/tikvdisk"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/tikvstatus"
)

// Defaults of Options fields left zero.
const (
	DefaultConcurrency = 20
	// DefaultLogTail is how much of the end of tikv.log is read.
	DefaultLogTail = 256 << 10
	// DefaultLogEvents is how many encryption events are kept per store.
	DefaultLogEvents = 8
	// DefaultStatusTimeout bounds one status-port request when Sources.HTTP is nil.
	DefaultStatusTimeout = 10 * time.Second
)

// Sources are the cluster clients Gather reads through.
type Sources struct {
	// PD is the PD client. nil skips the cluster summary; Stores must then be set.
	PD *pd.Client
	// ClusterID is PD's cluster id when the caller already has it (0: read it from PD).
	ClusterID uint64
	// Stores are PD's stores; nil means read them from PD.
	Stores []pd.StoreInfo
	// Nodes are the inventory nodes (paths, SSH targets); nil means the
	// nodes PD alone describes (no paths: only PD and the status port are read).
	Nodes []inventory.Node
	// SSH runs the read-only commands on the hosts.
	SSH ssh.Executor
	// SSHUser is the login user for nodes whose inventory names none.
	SSHUser string
	// HTTP is the status-port client; nil means one with DefaultStatusTimeout.
	HTTP *http.Client
}

// Options tune Gather.
type Options struct {
	// Concurrency bounds the stores inspected at once; 0 means DefaultConcurrency.
	Concurrency int
	// LogTail is how many bytes at the end of tikv.log are scanned; 0 means DefaultLogTail.
	LogTail int64
	// LogEvents is how many encryption events are kept per store; 0 means DefaultLogEvents.
	LogEvents int
	// Progress, when set, is called with (0, total) before the fan-out and
	// after each store is done. Calls never overlap.
	Progress func(done, total int)
	// Now returns the time stamped on the report; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.LogTail <= 0 {
		o.LogTail = DefaultLogTail
	}
	if o.LogEvents <= 0 {
		o.LogEvents = DefaultLogEvents
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Gather reads, strictly read-only, what an operator needs to see about every
// TiKV store and the cluster: PD's view, tikv.toml, the status port, key.dict
// and file.dict metadata, the end of tikv.log, on-disk coverage and the master
// key file, then derives each store's effective state. Stores are inspected
// at most opts.Concurrency at once. A store that cannot be (fully) read gets
// its reasons in Store.Errors and the report is marked partial; Gather fails
// only when it cannot learn the stores (PD unreachable without s.Stores) or
// ctx ends.
func Gather(ctx context.Context, s Sources, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	stores := s.Stores
	if stores == nil {
		if s.PD == nil {
			return nil, errors.New("gather: no PD client and no stores given")
		}
		var err error
		if stores, err = s.PD.Stores(ctx, false); err != nil {
			return nil, fmt.Errorf("reading stores from PD: %w", err)
		}
	}
	nodes := s.Nodes
	if nodes == nil {
		nodes = inventory.FromPD(stores)
	}
	if s.HTTP == nil {
		s.HTTP = &http.Client{Timeout: DefaultStatusTimeout}
	}
	byID := make(map[uint64]pd.StoreInfo, len(stores))
	for _, si := range stores {
		byID[si.Store.Id] = si
	}

	rep := &Report{SchemaVersion: SchemaVersion, Stores: make([]Store, len(nodes))}
	var clusterDone sync.WaitGroup
	if s.PD != nil {
		clusterDone.Go(func() { rep.Cluster = readCluster(ctx, s.PD, s.ClusterID) })
	} else {
		rep.Cluster = Cluster{ID: s.ClusterID, Regions: RegionHealth{-1, -1, -1}}
	}

	keys := make([]string, len(nodes))
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		keys[i] = n.Address
		if keys[i] == "" || index[keys[i]] != 0 {
			keys[i] = "store-" + strconv.FormatUint(n.StoreID, 10)
		}
		index[keys[i]] = i + 1
	}
	var progMu sync.Mutex
	done := 0
	progress := func(step int) {
		if opts.Progress == nil {
			return
		}
		progMu.Lock()
		defer progMu.Unlock()
		done += step
		opts.Progress(done, len(nodes))
	}
	progress(0)
	g := gatherer{src: s, opts: opts}
	// Per-store failures are recorded in the stores; ForEach's joined error
	// only repeats ctx's end for stores never started, which is checked below.
	_ = ssh.ForEach(ctx, keys, opts.Concurrency, func(ctx context.Context, key string) error {
		i := index[key] - 1
		si, ok := byID[nodes[i].StoreID]
		rep.Stores[i] = g.store(ctx, nodes[i], si, ok)
		progress(1)
		return nil
	})
	clusterDone.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gathering cluster status: %w", err)
	}

	evicted := map[uint64]bool{}
	for _, id := range rep.Cluster.EvictLeaderStores {
		evicted[id] = true
	}
	for i := range rep.Stores {
		st := &rep.Stores[i]
		st.PD.EvictLeader = evicted[st.StoreID]
		for _, e := range st.Errors {
			rep.Partial = append(rep.Partial, fmt.Sprintf("store %d (%s): %s: %s", st.StoreID, st.Address, e.Source, e.Message))
		}
	}
	for _, e := range rep.Cluster.Errors {
		rep.Partial = append(rep.Partial, "cluster: "+e)
	}
	rep.Complete = len(rep.Partial) == 0
	rep.GatheredAt = opts.Now().UTC()
	return rep, nil
}

// readCluster reads the PD-side summary; failed reads land in Errors.
func readCluster(ctx context.Context, c *pd.Client, id uint64) Cluster {
	out := Cluster{ID: id, PDEndpoints: c.Endpoints(), Regions: RegionHealth{-1, -1, -1},
		LocationLabels: []string{}, EvictLeaderStores: []uint64{}, EvictLeaderSchedulers: []string{}}
	fail := func(what string, err error) { out.Errors = append(out.Errors, what+": "+err.Error()) }
	if out.ID == 0 {
		if cl, err := c.Cluster(ctx); err != nil {
			fail("cluster id", err)
		} else {
			out.ID = cl.Id
		}
	}
	if rc, err := c.ReplicationConfig(ctx); err != nil {
		fail("replication config", err)
	} else {
		out.MaxReplicas, out.PlacementRules = rc.MaxReplicas, rc.EnablePlacementRules
		out.LocationLabels = append(out.LocationLabels, rc.LocationLabels...)
	}
	for _, chk := range []struct {
		kind pd.RegionCheck
		dst  *int
	}{{pd.CheckMissPeer, &out.Regions.MissPeer}, {pd.CheckPendingPeer, &out.Regions.PendingPeer}, {pd.CheckDownPeer, &out.Regions.DownPeer}} {
		r, err := c.RegionsCheck(ctx, chk.kind)
		if err != nil {
			fail("region check "+string(chk.kind), err)
			continue
		}
		*chk.dst = max(r.Count, len(r.Regions))
	}
	if ids, err := c.EvictLeaderStores(ctx); err != nil {
		fail("evict-leader stores", err)
	} else {
		out.EvictLeaderStores = append(out.EvictLeaderStores, ids...)
	}
	if names, err := c.Schedulers(ctx); err != nil {
		fail("schedulers", err)
	} else {
		for _, n := range names {
			if strings.HasPrefix(n, pd.EvictLeaderScheduler) {
				out.EvictLeaderSchedulers = append(out.EvictLeaderSchedulers, n)
			}
		}
	}
	return out
}

// gatherer holds what every store's inspection shares.
type gatherer struct {
	src  Sources
	opts Options
}

// storeAcc collects one store's facts from concurrent readers.
type storeAcc struct {
	mu sync.Mutex
	st *Store
}

func (a *storeAcc) fail(source string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.Errors = append(a.st.Errors, SourceError{Source: source, Message: err.Error()})
}

func (a *storeAcc) warn(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.Warnings = append(a.st.Warnings, fmt.Sprintf(format, args...))
}

// SSHTarget is the host string the SSH client resolves for a node:
// [user@]host[:port], with user falling back to defaultUser.
func SSHTarget(n inventory.Node, defaultUser string) string {
	t := n.Host
	user := n.SSHUser
	if user == "" {
		user = defaultUser
	}
	if user != "" {
		t = user + "@" + t
	}
	if n.SSHPort != 0 && n.SSHPort != 22 {
		t += ":" + strconv.Itoa(n.SSHPort)
	}
	return t
}

// store inspects one node.
func (g gatherer) store(ctx context.Context, n inventory.Node, si pd.StoreInfo, inPD bool) Store {
	st := Store{
		StoreID: n.StoreID, Address: n.Address, StatusAddress: n.StatusAddress,
		SSHTarget: SSHTarget(n, g.src.SSHUser), TiUPManaged: n.TiUPManaged,
		PD: pdFacts(n, si),
	}
	acc := &storeAcc{st: &st}
	if !inPD {
		acc.fail(SourcePD, fmt.Errorf("store %d is not in PD's store list", n.StoreID))
	}
	var wg sync.WaitGroup
	wg.Go(func() { g.running(ctx, n, acc) })
	g.onHost(ctx, n, acc)
	wg.Wait()
	sortErrors(st.Errors)
	st.State, st.Reason = Derive(&st)
	st.Verdict = Judge(&st)
	return st
}

func sortErrors(errs []SourceError) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Source < errs[j].Source })
}

func pdFacts(n inventory.Node, si pd.StoreInfo) PDFacts {
	f := PDFacts{
		Zone: n.Labels["zone"], Labels: n.Labels, Version: si.Store.Version, StateName: si.Store.StateName,
		LeaderCount: si.Status.LeaderCount, RegionCount: si.Status.RegionCount,
		StartTimestamp: si.Store.StartTimestamp, PauseLeaderTransferIn: si.Status.PauseLeaderTransferIn,
	}
	if f.Version == "" {
		f.Version = n.Version
	}
	if f.StateName == "" {
		f.StateName = n.StateName
	}
	if f.StartTimestamp > 0 {
		t := time.Unix(f.StartTimestamp, 0).UTC()
		f.StartTime = &t
	}
	return f
}

// running reads /config and /metrics from the status port.
func (g gatherer) running(ctx context.Context, n inventory.Node, acc *storeAcc) {
	if n.StatusAddress == "" {
		acc.fail(SourceStatus, errors.New("PD lists no status address for this store"))
		return
	}
	base := n.StatusAddress
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	sc := tikvstatus.StatusClient{BaseURL: base, HTTP: g.src.HTTP}
	var rf RunningFacts
	got := false
	if m, err := sc.Metrics(ctx); err != nil {
		acc.fail(SourceMetrics, err)
	} else {
		got = true
		rf.IsInitialized, rf.EncryptionMetrics = m.IsInitialized == 1, m.HasEncryption
		rf.FileNum, rf.DataKeys = int64(m.FileNum), int64(m.DataKeyStorageTotal)
		rf.LeaderCount, rf.RegionCount = int(m.LeaderCount), int(m.RegionCount)
	}
	if enc, err := sc.Config(ctx); err != nil {
		acc.fail(SourceStatus, err)
	} else {
		got = true
		rf.Method, rf.MasterKeyType = enc.EffectiveMethod(), enc.MasterKey.EffectiveType()
		if enc.MasterKey.Type == tikv.MasterKeyFile {
			rf.MasterKeyPath = enc.MasterKey.Path
		}
	}
	if got {
		acc.mu.Lock()
		acc.st.Running = &rf
		acc.mu.Unlock()
	}
}

// unreachable reports whether err says the SSH command never ran (as opposed
// to a command that ran and failed, or a missing file).
func unreachable(err error) bool {
	var ce *ssh.CommandError
	var se *ssh.SudoError
	return err != nil && !errors.As(err, &ce) && !errors.As(err, &se) && !errors.Is(err, fs.ErrNotExist)
}

// onHost reads the node's files over SSH in at most two sessions (one
// batch each, ssh.Batch): first tikv.toml together with everything the
// inventory's own data dir and log file name; then what only tikv.toml could
// tell (a data dir or log file the inventory lacks, a Raft Engine dir outside
// the data dir, the master key file). The inventory's paths win over
// tikv.toml's, as they always did, so the first batch never reads a file the
// config would have moved.
func (g gatherer) onHost(ctx context.Context, n inventory.Node, acc *storeAcc) {
	st := acc.st
	if g.src.SSH == nil || n.Host == "" {
		acc.fail(SourceSSH, errors.New("no SSH target known for this store"))
		return
	}
	node := ssh.Node{Exec: g.src.SSH, Host: st.SSHTarget}
	first := node.Batch()
	var readConfig func() ([]byte, error)
	if n.ConfigPath != "" {
		readConfig = node.ReadFileIn(first, n.ConfigPath)
	}
	var data *dataReads
	if n.DataDir != "" {
		data = g.queueData(node, first, n.DataDir, tikvdisk.RemoteProveDirs(n.DataDir))
	}
	var log *logReads
	if n.LogFile != "" {
		log = g.queueLog(node, first, n.LogFile)
	}
	if first.Len() == 0 {
		first.Add("true") // probe the host so its reachability is still known
	}
	if err := first.Run(ctx); unreachable(err) {
		acc.fail(SourceSSH, err)
		return
	}
	var cfg *tikvconf.Config
	if readConfig == nil {
		acc.fail(SourceConfig, errors.New("no tikv.toml path known for this store: pass --meta, --tiup-cluster or a manual --inventory"))
	} else {
		data, err := readConfig()
		if unreachable(err) {
			acc.fail(SourceSSH, err)
			return
		}
		if err != nil {
			acc.fail(SourceConfig, err)
		} else {
			cfg = g.config(n, data, acc)
		}
	}
	acc.mu.Lock()
	st.Reachable = true
	acc.mu.Unlock()

	dataDir := n.DataDir
	if dataDir == "" && cfg != nil {
		dataDir = absUnder(n.DeployDir, cfg.DataDir)
	}
	logFile := n.LogFile
	if logFile == "" && cfg != nil {
		logFile = absUnder(n.DeployDir, cfg.LogFile)
	}
	second := node.Batch()
	var dirs []string
	var more *listingRead // the listing of dirs only tikv.toml named
	if dataDir == "" {
		acc.fail(SourceDisk, errors.New("no data dir known for this store (not in the inventory nor in tikv.toml)"))
	} else {
		var extra []string
		if cfg != nil {
			for _, d := range []string{cfg.RaftEngineDir, cfg.RaftDBPath} {
				if path.IsAbs(d) {
					extra = append(extra, d)
				}
			}
		}
		dirs = tikvdisk.RemoteProveDirs(dataDir, extra...)
		if data == nil {
			data = g.queueData(node, second, dataDir, dirs)
		} else if rest := dirs[len(data.dirs):]; len(rest) > 0 {
			more = queueListing(node, second, rest)
		}
	}
	if logFile == "" {
		acc.fail(SourceLog, errors.New("no log file known for this store (not in the inventory nor in tikv.toml)"))
	} else if log == nil {
		log = g.queueLog(node, second, logFile)
	}
	var keyFile func() (ssh.FileInfo, error)
	keyPath := ""
	if cfg != nil && cfg.Encryption.MasterKey.Type == tikv.MasterKeyFile && cfg.Encryption.MasterKey.Path != "" {
		keyPath = cfg.Encryption.MasterKey.Path
		keyFile = node.StatIn(second, keyPath)
	}
	second.Run(ctx) // a failure is each read's own error, recorded under its source below

	if log != nil {
		g.logTail(node, log, acc)
	}
	if keyFile != nil {
		g.keyFile(keyPath, keyFile, acc)
	}
	if data == nil {
		return
	}
	g.keyDict(node, data, acc)
	fileDict := g.fileDict(node, data, acc)
	listing, err := data.listing.entries(ctx, node)
	if err == nil && more != nil {
		var rest []tikvdisk.TrailerEntry
		rest, err = more.entries(ctx, node)
		listing = append(listing, rest...)
	}
	if err != nil {
		acc.fail(SourceDisk, err)
		return
	}
	proof := tikvdisk.ProveListing(listing, tikvdisk.ProveOptions{FileDict: fileDict})
	acc.mu.Lock()
	st.Coverage = coverage(proof, dirs)
	acc.mu.Unlock()
}

// dataReads are the queued reads of one data dir: key.dict, file.dict and
// the listing of dirs with each data file's trailer or header bytes.
type dataReads struct {
	dataDir           string
	dirs              []string
	keyDict, fileDict func() ([]byte, error)
	listing           *listingRead
	// fileDictAfter is file.dict read again after the listing: a file
	// created between the first read and the listing is tracked in it (TiKV
	// adds a file to file.dict when the file is created, before any byte is
	// written: components/encryption/src/manager/mod.rs DataKeyManager::new_file,
	// called from the encrypted env's NewWritableFile), and one deleted in
	// between is still in the first read.
	fileDictAfter func() ([]byte, error)
}

func (g gatherer) queueData(node ssh.Node, b *ssh.Batch, dataDir string, dirs []string) *dataReads {
	return &dataReads{
		dataDir: dataDir, dirs: dirs,
		keyDict:       node.ReadFileIn(b, path.Join(dataDir, tikv.KeyDictName)),
		fileDict:      node.ReadFileIn(b, path.Join(dataDir, tikv.FileDictName)),
		listing:       queueListing(node, b, dirs),
		fileDictAfter: node.ReadFileIn(b, path.Join(dataDir, tikv.FileDictName)),
	}
}

// logReads are the queued reads of the end of tikv.log and of tikv_stderr.log beside it.
type logReads struct {
	path, stderrPath string
	log, stderr      func() (tailRead, error)
}

func (g gatherer) queueLog(node ssh.Node, b *ssh.Batch, p string) *logReads {
	stderrPath := path.Join(path.Dir(p), StderrName)
	return &logReads{path: p, stderrPath: stderrPath,
		log: g.readTailIn(node, b, p), stderr: g.readTailIn(node, b, stderrPath)}
}

// absUnder resolves p like TiKV started in dir does; "" stays "".
func absUnder(dir, p string) string {
	if p == "" || path.IsAbs(p) {
		return p
	}
	if dir == "" {
		return ""
	}
	return path.Join(dir, p)
}

// config parses tikv.toml into ConfigFacts (no secret values).
func (g gatherer) config(n inventory.Node, data []byte, acc *storeAcc) *tikvconf.Config {
	cf := &ConfigFacts{Path: n.ConfigPath, TiUP: tikv.DetectTiUP(data)}
	defer func() {
		acc.mu.Lock()
		acc.st.Config = cf
		if cf.TiUP {
			acc.st.TiUPManaged = true
		}
		acc.mu.Unlock()
	}()
	cfg, err := tikvconf.ParseConfig(n.ConfigPath, data)
	if err != nil {
		// ParseConfig's error names file:line:col and the key.
		cf.Problems = append(cf.Problems, Problem{Severity: tikv.SeverityError.String(), File: n.ConfigPath, Message: err.Error(), Fix: "fix the TOML syntax at that position"})
		acc.fail(SourceConfig, err)
		return nil
	}
	enc := cfg.Encryption
	cf.Method = enc.EffectiveMethod()
	cf.MasterKey = masterKeyFacts(enc.MasterKey)
	if enc.PreviousMasterKey.Type != "" {
		p := masterKeyFacts(enc.PreviousMasterKey)
		cf.PreviousMasterKey = &p
	}
	cf.DataDir, cf.RaftEngineDir, cf.LogFile = cfg.DataDir, cfg.RaftEngineDir, cfg.LogFile
	for _, p := range cfg.Validate(n.Version) {
		cf.Problems = append(cf.Problems, Problem{Severity: p.Severity.String(), File: p.File, Line: p.Line, Column: p.Column, Key: p.Key, Message: p.Message, Fix: p.Fix})
	}
	return cfg
}

// masterKeyFacts copies the identifying fields of a master key, never a secret.
func masterKeyFacts(k tikv.MasterKey) MasterKeyFacts {
	return MasterKeyFacts{Type: k.EffectiveType(), Path: k.Path, KeyID: k.KeyID, Vendor: k.Vendor, Region: k.Region, Endpoint: k.Endpoint}
}

func (g gatherer) keyDict(node ssh.Node, r *dataReads, acc *storeAcc) {
	p := path.Join(r.dataDir, tikv.KeyDictName)
	data, err := r.keyDict()
	defer clear(data)
	kd := &KeyDictFacts{}
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		acc.fail(SourceKeyDict, err)
		return
	default:
		meta, err := tikvdisk.ReadKeyDictMeta(data)
		if err != nil {
			acc.fail(SourceKeyDict, fmt.Errorf("%s on %s: %w", p, node.Host, err))
			return
		}
		kd = &KeyDictFacts{Exists: true, Method: meta.Method, KeysExposed: meta.KeysExposed, KMSVendor: meta.KMSVendor, Size: len(data)}
		if meta.KeysExposed {
			acc.warn("%s metadata method is %s: the data keys lie unencrypted on disk (master key type plaintext); switch to a file or KMS master key", p, meta.Method)
		}
	}
	acc.mu.Lock()
	acc.st.KeyDict = kd
	acc.mu.Unlock()
}

func (g gatherer) fileDict(node ssh.Node, r *dataReads, acc *storeAcc) *tikvdisk.FileDict {
	p := path.Join(r.dataDir, tikv.FileDictName)
	data, err := r.fileDict()
	fd := &FileDictFacts{}
	var dict *tikvdisk.FileDict
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No file.dict: TiKV treats every file as plaintext, and so does the proof.
		dict = &tikvdisk.FileDict{Files: map[string]tikvdisk.FileEntry{}}
	case err != nil:
		acc.fail(SourceFileDict, err)
		return nil
	default:
		d, err := tikvdisk.ReadFileDict(data)
		if err != nil {
			acc.fail(SourceFileDict, fmt.Errorf("%s on %s: %w", p, node.Host, err))
			return nil
		}
		dict = &d
		fd = &FileDictFacts{Exists: true, Entries: len(d.Files), Methods: d.MethodCounts(), TornTail: d.TornTail}
	}
	if dict != nil && r.fileDictAfter != nil {
		var later *tikvdisk.FileDict
		if dict, later = withLaterDict(dict, r.fileDictAfter); later != nil {
			// The facts are file.dict as it is now, as the proof is.
			fd = &FileDictFacts{Exists: true, Entries: len(later.Files), Methods: later.MethodCounts(), TornTail: later.TornTail}
		}
	}
	acc.mu.Lock()
	acc.st.FileDict = fd
	acc.mu.Unlock()
	return dict
}

// listingRead is a queued listing of data files with their probe bytes.
type listingRead struct {
	dirs []string
	get  func() (ssh.Result, error)
}

func queueListing(node ssh.Node, b *ssh.Batch, dirs []string) *listingRead {
	return &listingRead{dirs: dirs, get: node.RunIn(b, tikvdisk.RemoteProbeCommand(dirs...))}
}

// entries parses the listing; when its two streams do not fit together
// exactly (a file changed between the listing and the read), the listing
// is read again one file at a time (tikvdisk.ProbeOrFallback).
func (l *listingRead) entries(ctx context.Context, node ssh.Node) ([]tikvdisk.TrailerEntry, error) {
	res, err := l.get()
	if err != nil {
		return nil, fmt.Errorf("listing data files on %s: %w", node.Host, err)
	}
	// find's exit status is not looked at: a directory that does not exist
	// leaves the listing of the rest good.
	entries, err := tikvdisk.ProbeOrFallback(res.Stdout, res.Stderr, func() ([]byte, error) {
		res, err := node.Exec.Run(ctx, node.Host, tikvdisk.RemoteTrailerCommand(l.dirs...), nil)
		return res.Stdout, err
	})
	if err != nil {
		return nil, fmt.Errorf("data file listing from %s: %w", node.Host, err)
	}
	return entries, nil
}

func coverage(p tikvdisk.Proof, dirs []string) *Coverage {
	c := &Coverage{
		Dirs:      dirs,
		Encrypted: Tally{Files: p.Encrypted.Files, Bytes: p.Encrypted.Bytes},
		Plaintext: Tally{Files: p.Plaintext.Files, Bytes: p.Plaintext.Bytes},
		Skipped:   p.Skipped, Mismatches: len(p.Mismatches),
	}
	if n := c.Encrypted.Files + c.Plaintext.Files; n > 0 {
		c.FilesPercent = 100 * float64(c.Encrypted.Files) / float64(n)
	}
	c.BytesPercent = 100 * p.EncryptedFraction()
	return c
}

// logTailCommand prints "<size> <mtime>" of the file on the first line
// (stat -L -c '%s %Y'), then its last n bytes; "absent" when the file does
// not exist (only used for tikv_stderr.log, which TiKV may never have written).
func logTailCommand(p string, n int64) string {
	q := ssh.Quote(p)
	return fmt.Sprintf("if [ ! -e %s ]; then echo absent; exit 0; fi; stat -L -c '%%s %%Y' -- %s && tail -c %d -- %s", q, q, n, q)
}

// StderrName is the file TiKV's stderr goes to beside tikv.log: TiUP's
// run_tikv.sh ends in `--log-file "<log_dir>/tikv.log" 2>> "<log_dir>/tikv_stderr.log"`
// (pingcap/tiup embed/templates/scripts/run_tikv.sh.tpl; sim/host/layout.go).
const StderrName = "tikv_stderr.log"

// quietEvents are catalogue messages logged on every tick, start or file
// that would push the informative events out of the kept window.
func quietEvents() []string {
	return []string{tikvlog.MsgTryRotateDataKey.Name, tikvlog.MsgInstallingDictFile.Name, tikvlog.MsgNewEncryptedFile.Name}
}

// tailRead is the end of one file read over SSH.
type tailRead struct {
	exists  bool
	size    int64
	modTime *time.Time
	body    []byte
}

// readTailIn queues the read of the end of p in b.
func (g gatherer) readTailIn(node ssh.Node, b *ssh.Batch, p string) func() (tailRead, error) {
	get := node.RunIn(b, logTailCommand(p, g.opts.LogTail))
	return func() (tailRead, error) {
		res, err := get()
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("reading the end of %s on %s: exit status %d: %s", p, node.Host, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
		if err != nil {
			return tailRead{}, err
		}
		head, body, _ := bytes.Cut(res.Stdout, []byte("\n"))
		if strings.TrimSpace(string(head)) == "absent" {
			return tailRead{}, nil
		}
		sizeText, mtimeText, _ := strings.Cut(strings.TrimSpace(string(head)), " ")
		size, err := strconv.ParseInt(sizeText, 10, 64)
		if err != nil {
			return tailRead{}, fmt.Errorf("reading the end of %s on %s: size %q is not a number", p, node.Host, head)
		}
		tr := tailRead{exists: true, size: size, body: body}
		if sec, err := strconv.ParseInt(mtimeText, 10, 64); err == nil {
			t := time.Unix(sec, 0).UTC()
			tr.modTime = &t
		}
		return tr, nil
	}
}

func (g gatherer) logTail(node ssh.Node, r *logReads, acc *storeAcc) {
	p := r.path
	tr, err := r.log()
	stderr, stderrErr := r.stderr()
	if err == nil && !tr.exists {
		err = fmt.Errorf("%s on %s: %w", p, node.Host, fs.ErrNotExist)
	}
	if err != nil {
		acc.fail(SourceLog, err)
		return
	}
	lf := ScanLog(tr.body, tr.size > int64(len(tr.body)), g.opts.LogEvents)
	lf.Path, lf.Size, lf.ModTime = p, tr.size, tr.modTime
	if stderrErr != nil {
		acc.fail(SourceStderr, stderrErr)
	} else {
		lf.Stderr = ScanStderr(r.stderrPath, stderr.exists, stderr.size, stderr.modTime, stderr.body, lf)
	}
	acc.mu.Lock()
	acc.st.Log = lf
	acc.mu.Unlock()
}

// maxRecordText bounds the text of a listed record.
const maxRecordText = 240

func logRecord(r tikvlog.Record) LogRecord {
	text := r.Raw
	if len(text) > maxRecordText {
		text = text[:maxRecordText] + "…"
	}
	return LogRecord{Line: r.Line, Lines: r.Lines, Class: string(r.Class), Level: r.Level, Problem: r.Problem, Text: text}
}

func logRecords(rs []tikvlog.Record) []LogRecord {
	out := make([]LogRecord, 0, len(rs))
	for _, r := range rs {
		out = append(out, logRecord(r))
	}
	return out
}

func logEvent(ev tikvlog.Event) LogEvent {
	r := ev.Record
	le := LogEvent{Level: r.Level, Name: ev.Msg.Name, Message: r.Message, Method: ev.Method, Error: ev.Err, Code: ev.Code, Line: r.Line}
	if r.Class != tikvlog.Parsed {
		le.Damaged = r.Problem
	}
	if ev.Msg.Name == tikvlog.OtherFatal {
		le.Error = ""
	}
	if !r.Time.IsZero() {
		t := r.Time
		le.Time = &t
	}
	return le
}

// skipCutLine drops the first (partial) line of a tail that starts mid-file.
func skipCutLine(tail []byte) []byte {
	if i := bytes.IndexByte(tail, '\n'); i >= 0 {
		return tail[i+1:]
	}
	return nil
}

// ScanLog reads the end of a tikv.log. When truncated, the first (partial)
// line is dropped. It keeps the last keep events (without the per-tick
// ones), whether the last start-up outcome is a FATAL failure, whole or
// damaged, and the damaged and unparsed records after the last start.
func ScanLog(tail []byte, truncated bool, keep int) *LogFacts {
	lf := &LogFacts{BytesRead: int64(len(tail)), Events: []LogEvent{}, Records: map[string]int{}}
	if truncated {
		tail = skipCutLine(tail)
	}
	// Reading from memory cannot fail.
	a, _ := tikvlog.Analyze(bytes.NewReader(tail))
	quiet := quietEvents()
	if !a.StartTime.IsZero() {
		t := a.StartTime
		lf.StartTime = &t
	}
	for _, ev := range a.Events {
		if slices.Contains(quiet, ev.Msg.Name) {
			continue
		}
		lf.Events = appendKept(lf.Events, logEvent(ev), keep)
	}
	for c, n := range a.Counts {
		lf.Records[string(c)] = n
	}
	lf.FatalAfterStart, lf.Started, lf.StartLine = a.Failed, a.Started, a.StartLine
	lf.Unparsed, lf.UnparsedTotal = logRecords(a.Unparsed), a.UnparsedTotal
	lf.Damaged, lf.DamagedTotal = logRecords(a.Partial), a.PartialTotal
	return lf
}

// ScanStderr reads the end of tikv_stderr.log and places its last failure
// against the last start of tikv.log (lf): the failure is current when the
// file changed after that start. Without both times it cannot be placed.
func ScanStderr(p string, exists bool, size int64, modTime *time.Time, tail []byte, lf *LogFacts) *StderrFacts {
	sf := &StderrFacts{Path: p, Exists: exists, Size: size, BytesRead: int64(len(tail)), ModTime: modTime}
	if !exists {
		return sf
	}
	if size > int64(len(tail)) {
		tail = skipCutLine(tail)
	}
	a, _ := tikvlog.Analyze(bytes.NewReader(tail))
	sf.Unparsed, sf.UnparsedTotal = logRecords(a.Unparsed), a.UnparsedTotal
	for i := len(a.Events) - 1; i >= 0; i-- {
		if ev := a.Events[i]; ev.Record.Level == "FATAL" {
			le := logEvent(ev)
			sf.Failure = &le
			break
		}
	}
	if sf.Failure == nil && sf.UnparsedTotal == 0 {
		return sf
	}
	var since *time.Time
	switch {
	case lf == nil:
	case lf.StartTime != nil:
		since = lf.StartTime
	default:
		// No start marker in the part read: the newest timestamped event.
		for i := len(lf.Events) - 1; i >= 0 && since == nil; i-- {
			since = lf.Events[i].Time
		}
	}
	if since != nil && modTime != nil {
		// The file's mtime has whole seconds: a write in the same second as the start counts as after it.
		sf.CurrentKnown, sf.Current = true, !modTime.Before(since.Truncate(time.Second))
	}
	return sf
}

func appendKept(evs []LogEvent, e LogEvent, keep int) []LogEvent {
	evs = append(evs, e)
	if len(evs) > keep {
		evs = evs[1:]
	}
	return evs
}

// keyFile stats the master key file (never reads it) and warns about what
// weakens it: a missing file, a mode wider than 0400, a persistent file
// system, a size TiKV rejects.
func (g gatherer) keyFile(p string, stat func() (ssh.FileInfo, error), acc *storeAcc) {
	fi, err := stat()
	if err != nil {
		acc.fail(SourceKeyFile, err)
		return
	}
	kf := &KeyFileFacts{Path: p, Exists: fi.Exists}
	if fi.Exists {
		kf.Mode = fmt.Sprintf("%04o", fi.Mode.Perm())
		kf.Owner, kf.Group, kf.Size, kf.FSType = fi.Owner, fi.Group, fi.Size, fi.FSType
		if fi.Mode.Perm()&^0o400 != 0 {
			acc.warn("master key file %s has mode %s, wider than 0400: run chmod 0400 %s", p, kf.Mode, p)
		}
		if fi.FSType != "tmpfs" {
			acc.warn("master key file %s is on %s, not tmpfs: the key persists on disk next to the data it protects; keep it on a tmpfs and deliver it at boot", p, fi.FSType)
		}
		if fi.Size != tikv.FileKeySize {
			acc.warn("master key file %s is %d bytes: TiKV wants exactly %d (64 hex digits and a newline)", p, fi.Size, tikv.FileKeySize)
		}
	} else {
		acc.warn("master key file %s does not exist: TiKV cannot start until it is delivered again (a tmpfs is emptied by a reboot)", p)
	}
	acc.mu.Lock()
	acc.st.KeyFile = kf
	acc.mu.Unlock()
}

// withLaterDict adds to dict the entries of file.dict as read after the
// listing (later entries win): the proof then knows every listed file that
// existed at either read, so a file compaction wrote while the host was read
// is proven, not taken for one still being written. A later read that fails
// or does not parse leaves dict as it was (the listing is then judged
// against the earlier read alone, as before) and returns no later read.
func withLaterDict(dict *tikvdisk.FileDict, later func() ([]byte, error)) (merged, read *tikvdisk.FileDict) {
	data, err := later()
	if err != nil {
		return dict, nil
	}
	d, err := tikvdisk.ReadFileDict(data)
	if err != nil {
		return dict, nil
	}
	m := *dict
	m.Files = make(map[string]tikvdisk.FileEntry, len(dict.Files)+len(d.Files))
	maps.Copy(m.Files, dict.Files)
	maps.Copy(m.Files, d.Files)
	return &m, &d
}

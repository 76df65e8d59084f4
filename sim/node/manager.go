package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// manager is TiKV's DataKeyManager with its Dicts (components/encryption/src/manager/mod.rs).
type manager struct {
	n         *Node
	dir       string // dictionary directory: storage.data-dir
	master    backend
	method    string
	rotation  time.Duration
	dictLog   bool
	threshold uint64

	mu      sync.Mutex
	keys    *encryptionpb.KeyDictionary
	files   map[string]*encryptionpb.FileInfo
	removes uint64
}

// loadResult is Dicts::open's outcome.
type loadResult int

const (
	loadedNone loadResult = iota
	loadedDicts
)

// openDicts mirrors Dicts::open: file.dict is read, key.dict is read and decrypted
// with master, and the pair of outcomes decides (tikv-encryption.md §2.1).
func (m *manager) openDicts(ctx context.Context, master backend) (loadResult, *encErr) {
	fdPath, kdPath := filepath.Join(m.dir, tikv.FileDictName), filepath.Join(m.dir, tikv.KeyDictName)
	fdBytes, fdErr := os.ReadFile(fdPath)
	var files map[string]*encryptionpb.FileInfo
	var fdE *encErr
	if fdErr != nil {
		fdE = ioErr(fdErr)
	} else if f, err := decodeFileDict(fdBytes); err != nil {
		fdE = otherErr("components/encryption/src/encrypted_file/header.rs", 18, err.Error())
	} else {
		files = f
	}
	var keys *encryptionpb.KeyDictionary
	var kdE *encErr
	start := time.Now()
	kdBytes, kdErr := os.ReadFile(kdPath)
	if kdErr != nil {
		kdE = ioErr(kdErr)
	} else if c, err := decodeKeyDict(kdBytes); err != nil {
		kdE = otherErr("components/encryption/src/encrypted_file/header.rs", 18, err.Error())
	} else if plain, e := master.decrypt(ctx, c); e != nil {
		kdE = e
	} else {
		var kd encryptionpb.KeyDictionary
		if err := kd.Unmarshal(plain); err != nil {
			kdE = &encErr{kind: kindOther, msg: err.Error()}
		} else {
			keys = &kd
			m.n.metrics.observe(tikv.KeyDictName, "read", time.Since(start))
		}
	}
	fdMissing := fdErr != nil && errors.Is(fdErr, fs.ErrNotExist)
	kdMissing := kdErr != nil && errors.Is(kdErr, fs.ErrNotExist)
	switch {
	case fdE == nil && kdE == nil:
		m.n.log.catalogue(tikvlog.MsgFoundDicts, "", threadMain)
		if keys.Keys == nil {
			keys.Keys = map[uint64]*encryptionpb.DataKey{}
		}
		m.keys, m.files = keys, files
		m.n.metrics.setKeys(len(keys.Keys))
		m.n.metrics.setFiles(len(files))
		return loadedDicts, m.rewriteFileDict()
	case fdMissing && kdMissing:
		m.n.log.catalogue(tikvlog.MsgNoDicts, "", threadMain)
		return loadedNone, nil
	case fdE == nil && kdMissing && len(files) == 0:
		if err := os.Remove(fdPath); err != nil {
			return 0, ioErr(err)
		}
		m.n.log.catalogue(tikvlog.MsgEmptyFileDict, "", threadMain)
		return loadedNone, nil
	case kdE != nil:
		// Dicts::open's fall-through arm reports the key.dict error first when both
		// fail (components/encryption/src/manager/mod.rs, v4.0.0…v8.5.0).
		m.n.log.catalogue(tikvlog.MsgFailedLoadKeyDict, "", threadMain)
		return 0, kdE
	}
	m.n.log.catalogue(tikvlog.MsgFailedLoadFileDict, "", threadMain)
	return 0, fdE
}

// newDicts starts empty dictionaries (Dicts::new).
func (m *manager) newDicts() *encErr {
	m.keys = &encryptionpb.KeyDictionary{Keys: map[uint64]*encryptionpb.DataKey{}}
	m.files = map[string]*encryptionpb.FileInfo{}
	return m.rewriteFileDict()
}

// rewriteFileDict writes the whole file.dict (compaction, and at every start).
func (m *manager) rewriteFileDict() *encErr {
	path := filepath.Join(m.dir, tikv.FileDictName)
	oldSize := int64(0)
	if st, err := os.Stat(path); err == nil {
		oldSize = st.Size()
	}
	b, err := encodeFileDict(m.files, m.dictLog)
	if err != nil {
		return &encErr{kind: kindOther, msg: err.Error()}
	}
	start := time.Now()
	tmp, err := m.n.atomicWriteTmp(path, b)
	if err != nil {
		return ioErr(err)
	}
	if !m.dictLog {
		m.n.metrics.observe(tikv.FileDictName, "write", time.Since(start))
	}
	m.removes = 0
	m.n.metrics.setMetaSize("file_dictionary", len(b))
	if m.dictLog {
		// FileDictionaryFile::rewrite logs only on the log (V2) path, naming the tmp file
		// (tmp_path.display()); slog prints key-values last-first (file_dict_file.rs).
		m.n.log.catalogue(tikvlog.MsgInstallingDictFile, "", threadMain,
			field{"new_size", strconv.Itoa(len(b))}, field{"old_size", strconv.FormatInt(oldSize, 10)}, field{"name", tmp})
	}
	return nil
}

// saveKeyDict is Dicts::save_key_dict: an insecure master key marks every key exposed.
func (m *manager) saveKeyDict(ctx context.Context, master backend) *encErr {
	if !master.secure() {
		for _, k := range m.keys.Keys {
			k.WasExposed = true
		}
	}
	plain, err := m.keys.Marshal()
	if err != nil {
		return &encErr{kind: kindOther, msg: err.Error()}
	}
	c, e := master.encrypt(ctx, plain)
	if e != nil {
		return e
	}
	b, err := encodeKeyDict(c)
	if err != nil {
		return &encErr{kind: kindOther, msg: err.Error()}
	}
	start := time.Now()
	if err := m.n.atomicWrite(filepath.Join(m.dir, tikv.KeyDictName), b); err != nil {
		return ioErr(err)
	}
	m.n.metrics.observe(tikv.KeyDictName, "write", time.Since(start))
	m.n.metrics.setMetaSize("key_dictionary", len(plain))
	m.n.metrics.setKeys(len(m.keys.Keys))
	return nil
}

// maybeRotate is maybe_rotate_data_key (tikv-encryption.md §2.3).
func (m *manager) maybeRotate(ctx context.Context, now time.Time, thread int) *encErr {
	m.mu.Lock()
	defer m.mu.Unlock()
	method := pbMethod(m.method)
	if cur := m.keys.CurrentKeyId; cur != 0 {
		key := m.keys.Keys[cur]
		if key != nil && key.Method == method && !(key.WasExposed && m.master.secure()) {
			created := time.Unix(int64(key.CreationTime), 0)
			if now.Sub(created) < m.rotation {
				return nil
			}
		}
	}
	id, err := m.newKeyID()
	if err != nil {
		return &encErr{kind: kindOther, msg: err.Error()}
	}
	key := make([]byte, tikv.MethodKeyLen(m.method))
	if _, err := rand.Read(key); err != nil {
		return &encErr{kind: kindOther, msg: err.Error()}
	}
	m.n.log.catalogue(tikvlog.MsgRotateDataKey, "", thread, field{"key_id", strconv.FormatUint(id, 10)})
	m.keys.Keys[id] = &encryptionpb.DataKey{Key: key, Method: method, CreationTime: uint64(now.Unix())}
	m.keys.CurrentKeyId = id
	return m.saveKeyDict(ctx, m.master)
}

// newKeyID draws a random non-zero u64 not yet in use (up to 10 tries, as TiKV).
func (m *manager) newKeyID() (uint64, error) {
	var b [8]byte
	for range 10 {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		id := binary.LittleEndian.Uint64(b[:])
		if _, used := m.keys.Keys[id]; id != 0 && !used {
			return id, nil
		}
	}
	return 0, fmt.Errorf("failed to generate a unique data key id")
}

// newFile records a new file (Dicts::new_file) and returns its key and info; the
// key is nil for plaintext.
func (m *manager) newFile(path string) ([]byte, *encryptionpb.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := &encryptionpb.FileInfo{KeyId: m.keys.CurrentKeyId, Method: pbMethod(m.method)}
	var key []byte
	if info.Method != encryptionpb.EncryptionMethod_PLAINTEXT {
		info.Iv = make([]byte, 16)
		if _, err := rand.Read(info.Iv); err != nil {
			return nil, nil, err
		}
		key = m.keys.Keys[info.KeyId].GetKey()
	}
	if err := m.appendRecord(tikv.FileDictRecordInsert, path, info); err != nil {
		return nil, nil, err
	}
	m.files[path] = info
	m.n.metrics.setFiles(len(m.files))
	if info.Method != encryptionpb.EncryptionMethod_PLAINTEXT {
		// new_file: info! up to v6.0.x, debug! from v6.1.0 (the logger drops DEBUG);
		// fields fname, method, iv, printed last-first as tikv/tikv#7881's v4.0 log shows.
		m.n.log.catalogue(tikvlog.MsgNewEncryptedFile, "", threadMain,
			field{"iv", hex.EncodeToString(info.Iv)}, field{"method", tikv.MethodDebugName(m.method)}, field{"fname", path})
	}
	return key, info, nil
}

// deleteFile drops a file's entry with a Remove record; untracked files need nothing.
func (m *manager) deleteFile(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[path]; !ok {
		return nil
	}
	if err := m.appendRecord(tikv.FileDictRecordRemove, path, nil); err != nil {
		return err
	}
	delete(m.files, path)
	m.n.metrics.setFiles(len(m.files))
	m.removes++
	if m.dictLog && m.removes > m.threshold {
		if e := m.rewriteFileDict(); e != nil {
			return e
		}
	}
	return nil
}

// appendRecord appends one V2 record to file.dict, or rewrites the V1 file.
func (m *manager) appendRecord(typ byte, name string, info *encryptionpb.FileInfo) error {
	if !m.dictLog {
		old := m.files[name]
		if typ == tikv.FileDictRecordInsert {
			m.files[name] = info
		} else {
			delete(m.files, name)
		}
		e := m.rewriteFileDict()
		if e != nil { // restore the map: the caller applies the change itself
			if old != nil {
				m.files[name] = old
			} else {
				delete(m.files, name)
			}
			return e
		}
		return nil
	}
	path := filepath.Join(m.dir, tikv.FileDictName)
	if m.n.diskFull(path) {
		return fmt.Errorf("appending to %s: %w", path, syscall.ENOSPC)
	}
	rec, err := encodeRecord(typ, name, info)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(rec); err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil {
		m.n.metrics.setMetaSize("file_dictionary", int(st.Size()))
	}
	return nil
}

// fileInfo returns the tracked info of a file, or nil.
func (m *manager) fileInfo(path string) *encryptionpb.FileInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[path]
}

// initEncryption runs data_key_manager_from_config + DataKeyManager::new for cfg.
// It returns a nil manager when encryption is disabled.
func (n *Node) initEncryption(ctx context.Context, cfg *config, v semver, dataDir string) (*manager, *encErr) {
	master, e := n.newBackend(cfg.master, v)
	if e != nil {
		// Logged by create_backend and again by data_key_manager_from_config (export/src/lib.rs).
		n.log.catalogue(tikvlog.MsgFailedAccessMasterKey, e.Error(), threadMain)
		n.log.catalogue(tikvlog.MsgFailedAccessMasterKey, e.Error(), threadMain)
		return nil, e
	}
	if cfg.method == "unknown" {
		return nil, &encErr{kind: kindUnknownEnc}
	}
	m := &manager{n: n, dir: dataDir, master: master, method: cfg.method, rotation: cfg.rotation,
		dictLog: cfg.dictLog, threshold: cfg.rewriteThreshold}
	if cfg.method != tikv.MethodPlaintext && !master.secure() {
		return nil, otherErr(srcManagerMod, 715, tikv.ErrInsecureMasterKey)
	}
	res, e := m.openDicts(ctx, master)
	debugName := tikv.MethodDebugName(cfg.method)
	switch {
	case e == nil && res == loadedNone && cfg.method == tikv.MethodPlaintext:
		n.log.catalogue(tikvlog.MsgDisabled, "", threadMain)
		return nil, nil
	case e == nil && res == loadedNone:
		n.log.catalogue(tikvlog.MsgBeingEnabled, debugName, threadMain)
		if e := m.newDicts(); e != nil {
			return nil, e
		}
	case e == nil:
		n.log.catalogue(tikvlog.MsgEnabled, debugName, threadMain)
	case e.kind == kindWrongKey:
		if e := n.loadPrevious(ctx, m, cfg, v, e); e != nil {
			return nil, e
		}
	default:
		return nil, e
	}
	if e := m.maybeRotate(ctx, n.clk.Now(), threadMain); e != nil {
		return nil, e
	}
	n.metrics.setInitialized()
	return m, nil
}

// loadPrevious is load_previous_dicts: the previous-master-key backend is built
// lazily, only now (tikv-encryption.md §2.2).
func (n *Node) loadPrevious(ctx context.Context, m *manager, cfg *config, v semver, eCurrent *encErr) *encErr {
	prev, e := n.newBackend(cfg.previous, v)
	if e != nil {
		n.log.catalogue(tikvlog.MsgFailedAccessMasterKey, e.Error(), threadMain)
		return e
	}
	n.log.catalogue(tikvlog.MsgFallbackPreviousKey, fmt.Sprintf("%s, previous master key: %s", m.master.debug(), prev.debug()), threadMain)
	res, e := m.openDicts(ctx, prev)
	if e != nil {
		if e.kind == kindWrongKey {
			return &encErr{kind: kindBoth, msg: eCurrent.msg, prev: e.msg}
		}
		return e
	}
	if res == loadedNone {
		return otherErr(srcManagerMod, 776, tikv.ErrFallbackEmptyDicts)
	}
	if e := m.saveKeyDict(ctx, m.master); e != nil {
		return e
	}
	n.log.catalogue(tikvlog.MsgPersistedReplaceMasterKey, "", threadMain)
	return nil
}

package steps

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
)

// encryptionKV renders [security.encryption] as the dotted keys TiUP's
// meta.yaml takes; keys the encryption does not set are nil (removed).
// Vendor sub-tables may hold secrets and are left to the operator.
func encryptionKV(enc tikv.Encryption) map[string]any {
	kv := map[string]any{tikv.KeyMethod: nil, tikv.KeyRotationPeriod: nil}
	if m := enc.EffectiveMethod(); m != "" {
		kv[tikv.KeyMethod] = m
	}
	if enc.DataKeyRotationPeriod != "" {
		kv[tikv.KeyRotationPeriod] = enc.DataKeyRotationPeriod
	}
	for prefix, k := range map[string]tikv.MasterKey{tikv.KeyMasterKey: enc.MasterKey, tikv.KeyPreviousMasterKey: enc.PreviousMasterKey} {
		for _, f := range []string{"type", "path", "key-id", "region", "endpoint", "vendor"} {
			kv[prefix+"."+f] = nil
		}
		if k.Type == "" {
			continue
		}
		for _, f := range tikv.MasterKeyFields(k) {
			if !strings.Contains(f.Key, ".") {
				kv[prefix+"."+f.Key] = f.Value
			}
		}
	}
	return kv
}

// clearedKV is every encryption key removed.
func clearedKV() map[string]any {
	kv := encryptionKV(tikv.Encryption{})
	for k := range kv {
		kv[k] = nil
	}
	return kv
}

// instanceOf is a plan node's tikv_servers entry.
func instanceOf(n NodePlan) inventory.Instance {
	return inventory.Instance{Host: n.Host, Port: n.Port}
}

// writeMetaFile replaces meta.yaml with out, keeping a backup, when out
// decodes differently from data.
func writeMetaFile(path string, data, out []byte) (bool, error) {
	var a, b any
	if yaml.Unmarshal(data, &a) == nil && yaml.Unmarshal(out, &b) == nil && reflect.DeepEqual(a, b) {
		return false, nil
	}
	backup := path + ssh.BackupSuffix + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		return false, fmt.Errorf("backing up %s: %w", path, err)
	}
	tmp := path + ".tikv-ear.tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

// clearInstanceEncryption removes per-instance encryption keys an earlier
// stopped run wrote for some stores, once server_configs.tikv holds the
// cluster's encryption: TiUP merges an instance's config over
// server_configs, so a stale per-instance key would win at the next reload.
func clearInstanceEncryption(path string, nodes []NodePlan) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var ins []inventory.Instance
	for _, n := range nodes {
		ins = append(ins, instanceOf(n))
	}
	out, err := inventory.SetInstanceConfigTiKV(data, ins, clearedKV())
	if err != nil {
		return err
	}
	_, err = writeMetaFile(path, data, out)
	return err
}

// syncChangedStores brings meta.yaml in line with exactly the stores whose
// tikv.toml a run changed and that did not end where server_configs.tikv
// says: each gets its on-disk [security.encryption] as its own tikv_servers
// config. When that cannot be done, it warns with the command that does it.
func (s *Session) syncChangedStores(ctx context.Context, changed []uint64) {
	p, eng := s.Plan, s.Engine
	if p.Cluster.MetaYAML == "" || len(changed) == 0 {
		return
	}
	slices.Sort(changed)
	changed = slices.Compact(changed)
	var failed []string
	var synced []uint64
	for _, id := range changed {
		node, ok := eng.Nodes[id]
		if !ok {
			continue
		}
		n := node.Plan
		err := func() error {
			b, ok, err := node.ReadFile(ctx, n.ConfigPath)
			if err != nil || !ok {
				return fmt.Errorf("reading %s: %v", n.ConfigPath, err)
			}
			cfg, err := tikvconf.ParseConfig(n.ConfigPath, b)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(p.Cluster.MetaYAML)
			if err != nil {
				return err
			}
			out, err := inventory.SetInstanceConfigTiKV(data, []inventory.Instance{instanceOf(n)}, encryptionKV(cfg.Encryption))
			if err != nil {
				return err
			}
			_, err = writeMetaFile(p.Cluster.MetaYAML, data, out)
			return err
		}()
		if err != nil {
			failed = append(failed, fmt.Sprintf("store %d (%s:%d): %v", id, n.Host, n.Port, err))
			continue
		}
		synced = append(synced, id)
	}
	if len(synced) > 0 {
		s.emit(Event{Kind: Info, Step: StepFinalize, Message: fmt.Sprintf("%s: the tikv_servers config of store(s) %v now holds the encryption their tikv.toml has (the other stores are unchanged)", p.Cluster.MetaYAML, synced)})
	}
	if len(failed) > 0 {
		name := p.Cluster.Name
		if name == "" {
			name = "<cluster>"
		}
		s.emit(Event{Kind: Warning, Step: StepFinalize, Message: fmt.Sprintf("%s is out of step with stores whose tikv.toml this run changed: %s; 'tiup cluster reload' would render them without their encryption config. Bring TiUP in line before any reload: 'tiup cluster edit-config %s' and copy each store's [security.encryption] into its tikv_servers entry's config, or finish the run (a run that ends on every store syncs server_configs.tikv)",
			p.Cluster.MetaYAML, strings.Join(failed, "; "), name)})
	}
}

// changedStores are the stores whose tikv.toml the run replaced.
func changedStores(res *Result) []uint64 {
	var ids []uint64
	if res == nil {
		return nil
	}
	for _, sr := range res.Stores {
		if sr.Backup != "" {
			ids = append(ids, sr.StoreID)
		}
	}
	return ids
}

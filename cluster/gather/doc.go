// Package gather is the room that collects, strictly read-only, what an
// operator needs to see about a TiKV cluster's encryption at rest: per store,
// PD's view, tikv.toml's [security.encryption] (never a secret value), the
// running config and metrics from the status port, key.dict metadata and
// file.dict counts (never key bytes), the last encryption events of tikv.log,
// on-disk coverage (SST trailers and Raft Engine headers), the master key
// file's mode, owner and file system, and the effective state derived from
// them; plus the cluster summary from PD (replication, region health,
// evict-leader schedulers). Stores are inspected with a bounded fan-out, and
// a store that cannot be read gets its reasons while the others still show.
//
// It must not change anything on a host or in PD, print, or import the
// engine, the UI or the sim.
//
// # JSON schema (`tikv-ear status --output json`, schema_version 1)
//
// Report marshals to the document below; the field names are stable within a
// schema_version (see docs/status-json.md for the full description):
//
//	{
//	  "schema_version": 1,
//	  "gathered_at": "2026-11-27T14:00:00Z",
//	  "complete": false,
//	  "partial": ["store 2 (10.0.1.2:20160): ssh: …"],
//	  "cluster": {
//	    "id": 7000000000000000001, "pd_endpoints": ["http://10.0.1.1:2379"],
//	    "max_replicas": 3, "location_labels": ["zone", "host"], "placement_rules": false,
//	    "regions": {"miss_peer": 0, "pending_peer": 0, "down_peer": 0},
//	    "evict_leader_stores": [], "evict_leader_schedulers": [], "errors": ["…"]
//	  },
//	  "stores": [{
//	    "store_id": 1, "address": "10.0.1.1:20160", "status_address": "10.0.1.1:20180",
//	    "ssh_target": "tidb@10.0.1.1", "tiup_managed": true,
//	    "pd": {"zone": "z1", "labels": {"zone": "z1"}, "version": "8.5.2", "state_name": "Up",
//	           "leader_count": 10, "region_count": 30, "start_timestamp": 1795000000,
//	           "start_time": "…", "pause_leader_transfer_in": false, "evict_leader": false},
//	    "config": {"path": "…/conf/tikv.toml", "tiup": true, "method": "aes256-ctr",
//	               "master_key": {"type": "file", "path": "/run/tikv-ear/master.key"},
//	               "previous_master_key": null, "problems": [{"severity": "error", "file": "…", "line": 3, "column": 1, "key": "…", "message": "…", "fix": "…"}]},
//	    "running": {"method": "aes256-ctr", "master_key_type": "file", "master_key_path": "…",
//	                "is_initialized": true, "encryption_metrics": true, "file_num": 12,
//	                "data_keys": 1, "leader_count": 10, "region_count": 30},
//	    "key_dict": {"exists": true, "method": "aes256-gcm", "keys_exposed": false, "kms_vendor": "", "size": 140},
//	    "file_dict": {"exists": true, "entries": 12, "methods": {"aes256-ctr": 12}},
//	    "log": {"path": "…/tikv.log", "size": 1234, "bytes_read": 1234, "fatal_after_start": false,
//	            "events": [{"time": "…", "level": "INFO", "name": "enabled", "message": "encryption is enabled. method = Aes256Ctr", "method": "aes256-ctr"}]},
//	    "coverage": {"dirs": ["…/data/db"], "encrypted": {"files": 12, "bytes": 4096},
//	                 "plaintext": {"files": 0, "bytes": 0}, "files_percent": 100, "bytes_percent": 100,
//	                 "skipped": 0, "mismatches": 0},
//	    "key_file": {"path": "/run/tikv-ear/master.key", "exists": true, "mode": "0400",
//	                 "owner": "tidb", "group": "tidb", "size": 65, "fs_type": "tmpfs"},
//	    "state": "encrypted", "reason": "…", "ssh_reachable": true,
//	    "errors": [{"source": "ssh", "message": "…"}], "warnings": ["…"]
//	  }],
//	  "master_key": {"generation": 2, "backend": "file", "key_id": "…", "last_rotation": "…",
//	                 "last_rotation_source": "plan", "log_confirmed": "…", "log_confirmed_store": 1,
//	                 "age_days": 12, "period_days": 365, "next_due": "…", "overdue": false}
//	}
//
// "master_key" is present only when the caller knows the plan (status --plan,
// audit): Gather leaves Report.MasterKey nil.
//
// Sections that could not be read are null and explained in "errors";
// "state" is one of plaintext, enabling, encrypted, encrypted-partial,
// failing, waiting-for-key, unknown.
package gather

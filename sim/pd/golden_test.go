package pd

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// timeKeys are normalised before comparing with golden files.
var timeKeys = map[string]bool{
	"start_ts": true, "last_heartbeat_ts": true, "uptime": true, "last_heartbeat": true,
	"start_timestamp": true, "raft_bootstrap_time": true, "down_seconds": true,
}

func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if timeKeys[k] {
				x[k] = "TIME"
			} else {
				x[k] = normalise(e)
			}
		}
	case []any:
		for i := range x {
			x[i] = normalise(x[i])
		}
	}
	return v
}

func TestGoldenEndpoints(t *testing.T) {
	h := newHarness(t, Config{Regions: 6}, 3)
	h.ticks(2)
	h.heartbeatAll()
	cases := map[string]string{
		"stores":                  "/pd/api/v1/stores",
		"store":                   "/pd/api/v1/store/1",
		"stores_check":            "/pd/api/v1/stores/check?state=up",
		"health":                  "/pd/api/v1/health",
		"members":                 "/pd/api/v1/members",
		"leader":                  "/pd/api/v1/leader",
		"version":                 "/pd/api/v1/version",
		"status":                  "/pd/api/v1/status",
		"cluster":                 "/pd/api/v1/cluster",
		"cluster_status":          "/pd/api/v1/cluster/status",
		"config":                  "/pd/api/v1/config",
		"config_replicate":        "/pd/api/v1/config/replicate",
		"schedulers":              "/pd/api/v1/schedulers",
		"regions_check_miss_peer": "/pd/api/v1/regions/check/miss-peer",
		"ready_verbose":           "/pd/api/v2/ready?verbose",
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			var got any
			h.getJSON(path, &got)
			got = normalise(got)
			file := filepath.Join("testdata", name+".golden.json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("reading %s (run with -update to create): %v", file, err)
			}
			var want any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("decoding %s: %v", file, err)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				t.Fatalf("%s differs from %s:\n%s", path, file, g)
			}
		})
	}
}

// TestStoreJSONKeyFields pins the quirks independently of the golden files.
func TestStoreJSONKeyFields(t *testing.T) {
	h := newHarness(t, Config{Regions: 6}, 3)
	h.mt.advance(90 * 60e9)
	h.heartbeatAll()
	var raw map[string]map[string]any
	h.getJSON("/pd/api/v1/store/1", &raw)
	st, status := raw["store"], raw["status"]
	if _, ok := st["state"]; ok {
		t.Errorf("state must be omitted while Up: %v", st)
	}
	if st["state_name"] != "Up" || st["node_state"] != float64(1) || st["address"] != "127.0.0.1:20161" {
		t.Errorf("store = %v", st)
	}
	if hb, ok := st["last_heartbeat"].(float64); !ok || hb < 1e18 {
		t.Errorf("last_heartbeat must be unix nanoseconds, got %v", st["last_heartbeat"])
	}
	if ts, ok := st["start_timestamp"].(float64); !ok || ts > 1e11 {
		t.Errorf("start_timestamp must be unix seconds, got %v", st["start_timestamp"])
	}
	if c, ok := status["capacity"].(string); !ok || c != "500GiB" {
		t.Errorf("capacity = %v, want the string 500GiB", status["capacity"])
	}
	if status["uptime"] != "1h30m0s" {
		t.Errorf("uptime = %v, want 1h30m0s", status["uptime"])
	}
	if _, ok := status["pause_leader_transfer_in"]; ok {
		t.Errorf("pause_leader_transfer_in must be omitted while false")
	}
	var rep map[string]any
	h.getJSON("/pd/api/v1/config/replicate", &rep)
	if rep["location-labels"] != "zone,host" || rep["strictly-match-label"] != "false" ||
		rep["enable-placement-rules"] != "true" || rep["max-replicas"] != float64(3) {
		t.Errorf("replicate = %v", rep)
	}
	var conf struct{ Schedule map[string]any }
	h.getJSON("/pd/api/v1/config", &conf)
	if conf.Schedule["max-store-down-time"] != "30m0s" || conf.Schedule["leader-schedule-limit"] != float64(4) {
		t.Errorf("schedule = %v", conf.Schedule)
	}
	var ver map[string]string
	h.getJSON("/pd/api/v1/version", &ver)
	if ver["version"] != "8.5.2" || ver["hash"] != "" {
		t.Errorf("version = %v", ver)
	}
	// A capacity as PD writes it (go-units BytesSize, "%.4g" binary units).
	capacity := 460.4 * (1 << 30)
	if b, _ := json.Marshal(ByteSize(capacity)); string(b) != `"460.4GiB"` {
		t.Errorf("ByteSize JSON = %s, want \"460.4GiB\"", b)
	}
}

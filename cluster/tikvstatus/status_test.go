package tikvstatus

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

const sampleMetrics = `# HELP tikv_raftstore_region_count Number of regions collected in region_collection_observer
# TYPE tikv_raftstore_region_count gauge
tikv_raftstore_region_count{type="leader"} 17
tikv_raftstore_region_count{type="region"} 52
# HELP tikv_encryption_data_key_storage_total Total number of ecryption data keys in use
# TYPE tikv_encryption_data_key_storage_total gauge
tikv_encryption_data_key_storage_total 3
# HELP tikv_encryption_file_num Number of files being encrypted
# TYPE tikv_encryption_file_num gauge
tikv_encryption_file_num 120
# HELP tikv_encryption_is_initialized Flag to indicate if encryption is initialized
# TYPE tikv_encryption_is_initialized gauge
tikv_encryption_is_initialized 1
# HELP tikv_encryption_meta_file_size_bytes Size of encryption metadata files
# TYPE tikv_encryption_meta_file_size_bytes gauge
tikv_encryption_meta_file_size_bytes{name="file_dictionary"} 4096
tikv_encryption_meta_file_size_bytes{name="key_dictionary"} 180
# HELP tikv_encryption_write_read_file_duration_seconds Histogram of writing or reading file duration
# TYPE tikv_encryption_write_read_file_duration_seconds histogram
tikv_encryption_write_read_file_duration_seconds_bucket{operation="write",type="key.dict",le="0.001"} 1
tikv_encryption_write_read_file_duration_seconds_bucket{operation="write",type="key.dict",le="+Inf"} 2
tikv_encryption_write_read_file_duration_seconds_sum{operation="write",type="key.dict"} 0.004
tikv_encryption_write_read_file_duration_seconds_count{operation="write",type="key.dict"} 2
`

const sampleConfigJSON = `{"server":{"status-addr":"127.0.0.1:20180"},"security":{"ca-path":"","encryption":{"data-encryption-method":"aes256-ctr","data-key-rotation-period":"7d","enable-file-dictionary-log":true,"file-dictionary-rewrite-threshold":1000000,"master-key":{"type":"kms","key-id":"alias/tikv","region":"us-west-2","endpoint":"","vendor":"","aws":{"access-key":"AKIA","secret-access-key":"S"}},"previous-master-key":{"type":"plaintext"}}}}`

func statusServer(t *testing.T, metrics string) StatusClient {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(metrics)) })
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/config", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(sampleConfigJSON)) })
	srv := httptest.NewServer(mux) // binds 127.0.0.1
	t.Cleanup(srv.Close)
	return StatusClient{BaseURL: srv.URL + "/", HTTP: srv.Client()}
}

func TestStatusClientMetrics(t *testing.T) {
	c := statusServer(t, sampleMetrics)
	m, err := c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.LeaderCount != 17 || m.RegionCount != 52 || !m.HasRegionCount || !m.HasEncryption || m.DataKeyStorageTotal != 3 || m.FileNum != 120 || m.IsInitialized != 1 {
		t.Errorf("metrics = %+v", m)
	}
	if m.MetaFileSizeBytes["file_dictionary"] != 4096 || m.MetaFileSizeBytes["key_dictionary"] != 180 {
		t.Errorf("meta sizes = %v", m.MetaFileSizeBytes)
	}
	if h := m.MetaFileOps["key.dict/write"]; h.Count != 2 || h.Sum != 0.004 {
		t.Errorf("meta ops = %v", m.MetaFileOps)
	}
	if err := c.Status(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestStatusClientLeaderMissing(t *testing.T) {
	c := statusServer(t, "tikv_raftstore_region_count{type=\"region\"} 3\n")
	_, err := c.Metrics(context.Background())
	if err == nil || !strings.Contains(err.Error(), ErrLeaderMetricMissing) {
		t.Fatalf("err = %v", err)
	}
	m, err := ParseMetrics(strings.NewReader("tikv_raftstore_region_count{type=\"leader\"} 0\n"))
	if err != nil || m.HasEncryption || m.LeaderCount != 0 {
		t.Errorf("plain node: %+v %v", m, err)
	}
	if _, err := ParseMetrics(strings.NewReader("not metrics {{{\n")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestStatusClientConfig(t *testing.T) {
	c := statusServer(t, sampleMetrics)
	e, err := c.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e.Method != tikv.MethodAES256CTR || e.DataKeyRotationPeriod != "7d" || e.EnableFileDictionaryLog == nil || *e.FileDictionaryRewriteThreshold != 1000000 {
		t.Errorf("encryption = %+v", e)
	}
	if e.MasterKey.Type != "kms" || e.MasterKey.KeyID != "alias/tikv" || e.MasterKey.AWS == nil || e.MasterKey.AWS.AccessKey != "AKIA" || e.PreviousMasterKey.Type != "plaintext" {
		t.Errorf("master keys = %+v / %+v", e.MasterKey, e.PreviousMasterKey)
	}
	if _, err := ParseConfigJSON([]byte(`{"server":{}}`)); err == nil {
		t.Error("missing security.encryption accepted")
	}
}

func TestStatusClientHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "secret-access-key=S", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := StatusClient{BaseURL: srv.URL}
	_, err := c.Config(context.Background())
	if err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "secret") {
		t.Errorf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Status(ctx); err == nil {
		t.Error("cancelled context succeeded")
	}
}

package tikvstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Status-port paths (tikv/tikv src/server/status_server/mod.rs; reference
// tikv-encryption.md §4.2).
const (
	StatusPathMetrics = "/metrics"
	StatusPathStatus  = "/status"
	StatusPathConfig  = "/config"
)

// Label values of tikv_raftstore_region_count's "type" label
// (components/raftstore/src/coprocessor/metrics.rs; TiUP spec/tikv.go labelNameLeaderCount).
const (
	RegionCountLeader = "leader"
	RegionCountRegion = "region"
)

// ErrLeaderMetricMissing is TiUP's error when the leader metric is absent
// (pingcap/tiup pkg/cluster/spec/tikv.go genLeaderCounter; reference pd-and-tiup.md §2.3).
const ErrLeaderMetricMissing = `metric tikv_raftstore_region_count{type="leader"} not found`

// maxStatusBody bounds what the client reads from one status-port response.
const maxStatusBody = 64 << 20

// StatusClient talks to one TiKV status port (default 127.0.0.1:20180).
type StatusClient struct {
	// BaseURL is "http://host:20180" (or https with TLS).
	BaseURL string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// Metrics holds what tikv-ear reads from /metrics.
type Metrics struct {
	// LeaderCount is tikv_raftstore_region_count{type="leader"}.
	LeaderCount float64
	// RegionCount is tikv_raftstore_region_count{type="region"}; HasRegionCount says whether it was there.
	RegionCount    float64
	HasRegionCount bool
	// HasEncryption is true when the tikv_encryption_* gauges were exported.
	HasEncryption bool
	// DataKeyStorageTotal is tikv_encryption_data_key_storage_total (number of data keys).
	DataKeyStorageTotal float64
	// FileNum is tikv_encryption_file_num (entries in file.dict).
	FileNum float64
	// IsInitialized is tikv_encryption_is_initialized (1 once a DataKeyManager exists).
	IsInitialized float64
	// MetaFileSizeBytes is tikv_encryption_meta_file_size_bytes by its "name" label
	// (key_dictionary, file_dictionary).
	MetaFileSizeBytes map[string]float64
	// MetaFileOps is tikv_encryption_write_read_file_duration_seconds by
	// "type/operation" (e.g. "key.dict/write"): the histogram's count and sum.
	MetaFileOps map[string]HistogramSummary
}

// HistogramSummary is a histogram's sample count and sum.
type HistogramSummary struct {
	Count uint64
	Sum   float64
}

func (c StatusClient) get(ctx context.Context, path string) ([]byte, error) {
	url := strings.TrimRight(c.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", url, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		// The body is not quoted: /config can hold KMS secrets.
		return nil, fmt.Errorf("getting %s: status %s", url, resp.Status)
	}
	return body, nil
}

// Status checks GET /status, which answers 200 with an empty body when the
// status server is up.
func (c StatusClient) Status(ctx context.Context) error {
	_, err := c.get(ctx, StatusPathStatus)
	return err
}

// Metrics reads /metrics. It fails with ErrLeaderMetricMissing when the
// leader count is absent, as TiUP does.
func (c StatusClient) Metrics(ctx context.Context) (Metrics, error) {
	body, err := c.get(ctx, StatusPathMetrics)
	if err != nil {
		return Metrics{}, err
	}
	m, err := ParseMetrics(strings.NewReader(string(body)))
	if err != nil {
		return Metrics{}, fmt.Errorf("%s%s: %w", strings.TrimRight(c.BaseURL, "/"), StatusPathMetrics, err)
	}
	return m, nil
}

// ParseMetrics parses a Prometheus text exposition from a TiKV status port.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Metrics{}, fmt.Errorf("parsing metrics: %w", err)
	}
	var m Metrics
	leader := false
	if f, ok := fams[tikv.MetricRegionCount]; ok {
		for _, s := range f.GetMetric() {
			switch labelValue(s, tikv.LabelType) {
			case RegionCountLeader:
				m.LeaderCount, leader = gaugeValue(s), true
			case RegionCountRegion:
				m.RegionCount, m.HasRegionCount = gaugeValue(s), true
			}
		}
	}
	if !leader {
		return Metrics{}, errors.New(ErrLeaderMetricMissing)
	}
	single := func(name string) (float64, bool) {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, false
		}
		return gaugeValue(f.GetMetric()[0]), true
	}
	var ok bool
	m.IsInitialized, m.HasEncryption = single(tikv.MetricIsInitialized)
	if m.DataKeyStorageTotal, ok = single(tikv.MetricDataKeyStorageTotal); ok {
		m.HasEncryption = true
	}
	if m.FileNum, ok = single(tikv.MetricFileNum); ok {
		m.HasEncryption = true
	}
	if f, ok := fams[tikv.MetricMetaFileSizeBytes]; ok {
		m.MetaFileSizeBytes = map[string]float64{}
		for _, s := range f.GetMetric() {
			m.MetaFileSizeBytes[labelValue(s, "name")] = gaugeValue(s)
		}
	}
	if f, ok := fams[tikv.MetricWriteReadFileDur]; ok {
		m.MetaFileOps = map[string]HistogramSummary{}
		for _, s := range f.GetMetric() {
			h := s.GetHistogram()
			if h == nil {
				continue
			}
			m.MetaFileOps[labelValue(s, "type")+"/"+labelValue(s, "operation")] = HistogramSummary{Count: h.GetSampleCount(), Sum: h.GetSampleSum()}
		}
	}
	return m, nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// gaugeValue reads a sample whatever its declared type (TiKV declares gauges;
// untyped samples parse as Untyped).
func gaugeValue(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// Config reads security.encryption from GET /config (kebab-case JSON, the
// same shape as tikv.toml; reference tikv-encryption.md §4.2). The result may
// hold KMS secrets: never log or report it whole.
func (c StatusClient) Config(ctx context.Context) (tikv.Encryption, error) {
	body, err := c.get(ctx, StatusPathConfig)
	if err != nil {
		return tikv.Encryption{}, err
	}
	e, err := ParseConfigJSON(body)
	if err != nil {
		return tikv.Encryption{}, fmt.Errorf("%s%s: %w", strings.TrimRight(c.BaseURL, "/"), StatusPathConfig, err)
	}
	return e, nil
}

type jsonEncryption struct {
	Method                         string         `json:"data-encryption-method"`
	DataKeyRotationPeriod          string         `json:"data-key-rotation-period"`
	EnableFileDictionaryLog        *bool          `json:"enable-file-dictionary-log"`
	FileDictionaryRewriteThreshold *uint64        `json:"file-dictionary-rewrite-threshold"`
	MasterKey                      *jsonMasterKey `json:"master-key"`
	PreviousMasterKey              *jsonMasterKey `json:"previous-master-key"`
}

type jsonMasterKey struct {
	Type     string `json:"type"`
	Path     string `json:"path"`
	KeyID    string `json:"key-id"`
	Region   string `json:"region"`
	Endpoint string `json:"endpoint"`
	Vendor   string `json:"vendor"`
	AWS      *struct {
		AccessKey       string `json:"access-key"`
		SecretAccessKey string `json:"secret-access-key"`
	} `json:"aws"`
	Azure *struct {
		TenantID                  string `json:"tenant-id"`
		ClientID                  string `json:"client-id"`
		KeyvaultURL               string `json:"keyvault-url"`
		HSMName                   string `json:"hsm-name"`
		HSMURL                    string `json:"hsm-url"`
		ClientCertificate         string `json:"client-certificate"`
		ClientCertificatePath     string `json:"client-certificate-path"`
		ClientCertificatePassword string `json:"client-certificate-password"`
		ClientSecret              string `json:"client-secret"`
	} `json:"azure"`
	GCP *struct {
		CredentialFilePath string `json:"credential-file-path"`
	} `json:"gcp"`
}

func (j *jsonMasterKey) model() tikv.MasterKey {
	if j == nil {
		return tikv.MasterKey{}
	}
	k := tikv.MasterKey{Type: j.Type, Path: j.Path, KeyID: j.KeyID, Region: j.Region, Endpoint: j.Endpoint, Vendor: j.Vendor}
	if j.AWS != nil {
		k.AWS = &tikv.AWSKMS{AccessKey: j.AWS.AccessKey, SecretAccessKey: j.AWS.SecretAccessKey}
	}
	if a := j.Azure; a != nil {
		k.Azure = &tikv.AzureKMS{TenantID: a.TenantID, ClientID: a.ClientID, KeyvaultURL: a.KeyvaultURL, HSMName: a.HSMName, HSMURL: a.HSMURL,
			ClientCertificate: a.ClientCertificate, ClientCertificatePath: a.ClientCertificatePath,
			ClientCertificatePassword: a.ClientCertificatePassword, ClientSecret: a.ClientSecret}
	}
	if j.GCP != nil {
		k.GCP = &tikv.GCPKMS{CredentialFilePath: j.GCP.CredentialFilePath}
	}
	return k
}

// ParseConfigJSON extracts security.encryption from a /config response.
func ParseConfigJSON(body []byte) (tikv.Encryption, error) {
	var doc struct {
		Security *struct {
			Encryption *jsonEncryption `json:"encryption"`
		} `json:"security"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return tikv.Encryption{}, fmt.Errorf("parsing config JSON: %w", err)
	}
	if doc.Security == nil || doc.Security.Encryption == nil {
		return tikv.Encryption{}, errors.New("config JSON has no security.encryption (is this a TiKV status port?)")
	}
	j := doc.Security.Encryption
	return tikv.Encryption{
		Method:                         j.Method,
		DataKeyRotationPeriod:          j.DataKeyRotationPeriod,
		EnableFileDictionaryLog:        j.EnableFileDictionaryLog,
		FileDictionaryRewriteThreshold: j.FileDictionaryRewriteThreshold,
		MasterKey:                      j.MasterKey.model(),
		PreviousMasterKey:              j.PreviousMasterKey.model(),
	}, nil
}

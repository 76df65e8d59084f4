package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
	"gopkg.in/yaml.v3"
)

// Names shared by the generated artefacts and the rotate command.
const (
	// DefaultName is the base name of the systemd units and the CronJob.
	DefaultName = "tikv-ear-rotate"
	// DefaultUser is the dedicated account the job runs as.
	DefaultUser = "tikv-ear"
	// DefaultRandomizedDelay spreads the start of the job (systemd RandomizedDelaySec).
	DefaultRandomizedDelay = time.Hour
	// CredentialVaultSecretID is the systemd credential name of the Vault AppRole secret-id.
	CredentialVaultSecretID = "vault-secret-id"
	// EnvVaultSecretIDFile names the environment variable holding the PATH of the
	// AppRole secret-id file (never the secret itself).
	EnvVaultSecretIDFile = "TIKV_EAR_VAULT_SECRET_ID_FILE"
)

// Job describes one scheduled rotation: tikv-ear rotate <plan> --yes --output json --report-dir <dir>.
// No secret goes into a generated artefact: Vault's AppRole secret-id is
// referenced by file path only, and AWS credentials come from the instance
// role / profile (the default credential chain).
type Job struct {
	Name              string        // unit / CronJob name; DefaultName when empty
	Binary            string        // absolute path of tikv-ear
	Plan              string        // absolute path of plan.toml
	ReportDir         string        // absolute directory keeping the signed report of every run
	User              string        // dedicated user; DefaultUser when empty
	Group             string        // defaults to User
	Period            time.Duration // master-key rotation period (whole days, ≥ 1d + delay)
	RandomizedDelay   time.Duration // DefaultRandomizedDelay when 0
	VaultSecretIDFile string        // optional absolute path of the AppRole secret-id file
}

func (j Job) withDefaults() Job {
	if j.Name == "" {
		j.Name = DefaultName
	}
	if j.User == "" {
		j.User = DefaultUser
	}
	if j.Group == "" {
		j.Group = j.User
	}
	if j.RandomizedDelay == 0 {
		j.RandomizedDelay = DefaultRandomizedDelay
	}
	return j
}

func (j Job) validate() error {
	var errs []error
	for _, p := range []struct{ name, v string }{{"binary", j.Binary}, {"plan", j.Plan}, {"report dir", j.ReportDir}} {
		if !filepath.IsAbs(p.v) {
			errs = append(errs, fmt.Errorf("%s %q must be an absolute path", p.name, p.v))
		}
	}
	if j.VaultSecretIDFile != "" && !filepath.IsAbs(j.VaultSecretIDFile) {
		errs = append(errs, fmt.Errorf("vault secret-id file %q must be an absolute path", j.VaultSecretIDFile))
	}
	for _, v := range []string{j.Name, j.Binary, j.Plan, j.ReportDir, j.User, j.Group, j.VaultSecretIDFile} {
		if strings.ContainsAny(v, "\n\r\x00") {
			errs = append(errs, fmt.Errorf("value %q contains a line break or NUL", v))
		}
	}
	for _, v := range []string{j.Name, j.User, j.Group} {
		if v == "" || strings.ContainsAny(v, " \t/:'\"%$\\") {
			errs = append(errs, fmt.Errorf("name %q: use letters, digits, '-', '_' and '.' only", v))
		}
	}
	if j.RandomizedDelay < 0 {
		errs = append(errs, fmt.Errorf("randomized delay %s is negative", j.RandomizedDelay))
	}
	return errors.Join(errs...)
}

func (j Job) args() []string {
	return []string{"rotate", j.Plan, "--yes", "--output", "json", "--report-dir", j.ReportDir}
}

// calendar is a systemd OnCalendar shorthand, its cron form and its longest interval.
type calendar struct {
	name, cron string
	longest    time.Duration
}

// calendars from longest to shortest; cron fields are "minute hour" prefixed later.
// Longest intervals: quarterly 92d (Jul–Oct), semiannually 184d (Jul–Jan), yearly 366d.
var calendars = []calendar{
	{"yearly", "1 1 *", 366 * Day},
	{"semiannually", "1 1,7 *", 184 * Day},
	{"quarterly", "1 1,4,7,10 *", 92 * Day},
	{"monthly", "1 * *", 31 * Day},
	{"weekly", "* * 1", 7 * Day},
	{"daily", "* * *", Day},
}

// pickCalendar returns the sparsest calendar whose longest interval plus the
// randomized delay still fits in period, so the key never outlives its period.
func pickCalendar(period, delay time.Duration) (calendar, error) {
	for _, c := range calendars {
		if c.longest+delay <= period {
			return c, nil
		}
	}
	return calendar{}, fmt.Errorf("rotation period %s is shorter than one day plus the randomized delay %s; a master-key rotation restarts every store, use a period of at least 2d", period, delay)
}

// OnCalendar returns the systemd OnCalendar value used for period with the
// given randomized delay: the sparsest of daily, weekly, monthly, quarterly,
// semiannually, yearly whose longest gap plus delay fits in the period.
func OnCalendar(period, delay time.Duration) (string, error) {
	c, err := pickCalendar(period, delay)
	return c.name, err
}

// CronSchedule returns the five-field cron schedule equivalent of OnCalendar,
// firing at 00:00 plus a fixed minute offset derived from the delay.
func CronSchedule(period, delay time.Duration) (string, error) {
	c, err := pickCalendar(period, delay)
	if err != nil {
		return "", err
	}
	minute := int((delay / 2) / time.Minute % 60)
	hour := int((delay / 2) / time.Hour % 24)
	return fmt.Sprintf("%d %d %s", minute, hour, c.cron), nil
}

// systemdQuote quotes one ExecStart argument: specifiers (%) and variables ($) are escaped.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// Systemd renders <name>.service and <name>.timer. The service is a oneshot
// run as the dedicated user with UMask 0077 and basic hardening; the Vault
// secret-id, when configured, is passed with LoadCredential= and its path in
// EnvVaultSecretIDFile (%d is the credentials directory). The timer uses
// OnCalendar (see OnCalendar), RandomizedDelaySec and Persistent=true.
func Systemd(j Job) (service, timer []byte, err error) {
	j = j.withDefaults()
	if err := j.validate(); err != nil {
		return nil, nil, fmt.Errorf("systemd units: %w", err)
	}
	cal, err := pickCalendar(j.Period, j.RandomizedDelay)
	if err != nil {
		return nil, nil, fmt.Errorf("systemd units: %w", err)
	}
	exec := []string{systemdQuote(j.Binary)}
	for _, a := range j.args() {
		exec = append(exec, systemdQuote(a))
	}
	var s bytes.Buffer
	fmt.Fprintf(&s, "# Generated by tikv-ear. Rotates the TiKV encryption master key; period %dd.\n", j.Period/Day)
	s.WriteString("# No secrets here: Vault's AppRole secret-id is loaded from a file, AWS uses the instance role.\n")
	s.WriteString("[Unit]\n")
	s.WriteString("Description=tikv-ear: rotate the TiKV encryption master key\n")
	s.WriteString("Wants=network-online.target\nAfter=network-online.target\n\n")
	s.WriteString("[Service]\nType=oneshot\n")
	fmt.Fprintf(&s, "User=%s\nGroup=%s\n", j.User, j.Group)
	fmt.Fprintf(&s, "ExecStart=%s\n", strings.Join(exec, " "))
	if j.VaultSecretIDFile != "" {
		fmt.Fprintf(&s, "LoadCredential=%s:%s\n", CredentialVaultSecretID, strings.ReplaceAll(j.VaultSecretIDFile, "%", "%%"))
		fmt.Fprintf(&s, "Environment=%s=%%d/%s\n", EnvVaultSecretIDFile, CredentialVaultSecretID)
	}
	s.WriteString("UMask=0077\nNoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=full\n")
	fmt.Fprintf(&s, "StateDirectory=tikv-ear\nReadWritePaths=-%s\n", systemdQuote(j.ReportDir))

	var t bytes.Buffer
	fmt.Fprintf(&t, "# Generated by tikv-ear. %s fires at least once every %dd (longest gap %dd + delay %s).\n", cal.name, j.Period/Day, cal.longest/Day, j.RandomizedDelay)
	t.WriteString("[Unit]\nDescription=tikv-ear: scheduled TiKV master-key rotation\n\n")
	fmt.Fprintf(&t, "[Timer]\nOnCalendar=%s\nRandomizedDelaySec=%d\nPersistent=true\nUnit=%s.service\n\n", cal.name, int64(j.RandomizedDelay/time.Second), j.Name)
	t.WriteString("[Install]\nWantedBy=timers.target\n")
	return s.Bytes(), t.Bytes(), nil
}

// cronQuote single-quotes s for /bin/sh (shquote.Always); cron's % is escaped as \%.
func cronQuote(s string) string {
	return strings.ReplaceAll(shquote.Always(s), "%", `\%`)
}

// Cron renders one /etc/cron.d line (with the user field). Cron has no
// catch-up for missed runs, unlike the systemd timer's Persistent=true.
func Cron(j Job) (string, error) {
	j = j.withDefaults()
	if err := j.validate(); err != nil {
		return "", fmt.Errorf("cron line: %w", err)
	}
	sched, err := CronSchedule(j.Period, j.RandomizedDelay)
	if err != nil {
		return "", fmt.Errorf("cron line: %w", err)
	}
	cmd := []string{}
	if j.VaultSecretIDFile != "" {
		cmd = append(cmd, EnvVaultSecretIDFile+"="+cronQuote(j.VaultSecretIDFile))
	}
	cmd = append(cmd, cronQuote(j.Binary))
	for _, a := range j.args() {
		cmd = append(cmd, cronQuote(a))
	}
	return fmt.Sprintf("%s %s %s\n", sched, j.User, strings.Join(cmd, " ")), nil
}

// Kube holds the Kubernetes specifics of a CronJob.
type Kube struct {
	Namespace       string
	Image           string // image with tikv-ear at Job.Binary
	ServiceAccount  string // defaults to Job.User
	PlanConfigMap   string // ConfigMap holding plan.toml (key = base name of Job.Plan)
	ReportsClaim    string // PersistentVolumeClaim mounted at Job.ReportDir
	VaultSecretName string // optional Secret holding the AppRole secret-id (key vault-secret-id)
	RunAsUser       int64  // non-root uid; 65532 when 0
}

// CronJob is the batch/v1 CronJob subset tikv-ear generates.
type CronJob struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Metadata   ObjectMeta  `yaml:"metadata"`
	Spec       CronJobSpec `yaml:"spec"`
}

// ObjectMeta is metadata.
type ObjectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

// CronJobSpec is spec of a CronJob.
type CronJobSpec struct {
	Schedule                   string          `yaml:"schedule"`
	TimeZone                   string          `yaml:"timeZone"`
	ConcurrencyPolicy          string          `yaml:"concurrencyPolicy"`
	StartingDeadlineSeconds    int64           `yaml:"startingDeadlineSeconds"`
	SuccessfulJobsHistoryLimit int32           `yaml:"successfulJobsHistoryLimit"`
	FailedJobsHistoryLimit     int32           `yaml:"failedJobsHistoryLimit"`
	JobTemplate                JobTemplateSpec `yaml:"jobTemplate"`
}

// JobTemplateSpec is spec.jobTemplate.
type JobTemplateSpec struct {
	Spec JobSpec `yaml:"spec"`
}

// JobSpec is a Job's spec.
type JobSpec struct {
	BackoffLimit int32           `yaml:"backoffLimit"`
	Template     PodTemplateSpec `yaml:"template"`
}

// PodTemplateSpec is spec.template.
type PodTemplateSpec struct {
	Spec PodSpec `yaml:"spec"`
}

// PodSpec is the pod spec subset used.
type PodSpec struct {
	RestartPolicy      string             `yaml:"restartPolicy"`
	ServiceAccountName string             `yaml:"serviceAccountName"`
	SecurityContext    PodSecurityContext `yaml:"securityContext"`
	Containers         []Container        `yaml:"containers"`
	Volumes            []Volume           `yaml:"volumes"`
}

// PodSecurityContext is spec.securityContext.
type PodSecurityContext struct {
	RunAsNonRoot bool  `yaml:"runAsNonRoot"`
	RunAsUser    int64 `yaml:"runAsUser"`
	FSGroup      int64 `yaml:"fsGroup"`
}

// Container is a container.
type Container struct {
	Name            string                   `yaml:"name"`
	Image           string                   `yaml:"image"`
	Command         []string                 `yaml:"command"`
	Args            []string                 `yaml:"args"`
	Env             []EnvVar                 `yaml:"env,omitempty"`
	VolumeMounts    []VolumeMount            `yaml:"volumeMounts"`
	SecurityContext ContainerSecurityContext `yaml:"securityContext"`
}

// EnvVar is a plain name/value variable (never a secret value).
type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// VolumeMount mounts a volume.
type VolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

// ContainerSecurityContext is a container's securityContext.
type ContainerSecurityContext struct {
	AllowPrivilegeEscalation bool         `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   bool         `yaml:"readOnlyRootFilesystem"`
	Capabilities             Capabilities `yaml:"capabilities"`
}

// Capabilities drops Linux capabilities.
type Capabilities struct {
	Drop []string `yaml:"drop"`
}

// Volume is a pod volume from a ConfigMap, Secret or PVC.
type Volume struct {
	Name                  string     `yaml:"name"`
	ConfigMap             *NameRef   `yaml:"configMap,omitempty"`
	Secret                *SecretRef `yaml:"secret,omitempty"`
	PersistentVolumeClaim *ClaimRef  `yaml:"persistentVolumeClaim,omitempty"`
	EmptyDir              *struct{}  `yaml:"emptyDir,omitempty"`
}

// NameRef names a ConfigMap.
type NameRef struct {
	Name string `yaml:"name"`
}

// SecretRef names a Secret, mounted with mode 0400.
type SecretRef struct {
	SecretName  string `yaml:"secretName"`
	DefaultMode int32  `yaml:"defaultMode"`
}

// ClaimRef names a PersistentVolumeClaim.
type ClaimRef struct {
	ClaimName string `yaml:"claimName"`
}

// secretMountDir is where the AppRole secret-id Secret is mounted in the pod.
const secretMountDir = "/var/run/secrets/tikv-ear"

// KubernetesCronJob builds the batch/v1 CronJob (concurrencyPolicy Forbid,
// backoffLimit 0, non-root, read-only root file system) running the job.
// The plan comes from a ConfigMap mounted at the directory of Job.Plan, the
// reports go to a PVC at Job.ReportDir, and the Vault secret-id (if any) is a
// Secret mounted read-only whose path is passed in EnvVaultSecretIDFile.
func KubernetesCronJob(j Job, k Kube) (*CronJob, error) {
	j = j.withDefaults()
	if err := j.validate(); err != nil {
		return nil, fmt.Errorf("cronjob: %w", err)
	}
	if k.Image == "" || k.PlanConfigMap == "" || k.ReportsClaim == "" {
		return nil, errors.New("cronjob: image, plan ConfigMap and reports PersistentVolumeClaim are required")
	}
	if filepath.Dir(j.Plan) == filepath.Clean(j.ReportDir) {
		return nil, fmt.Errorf("cronjob: plan %s and report dir %s must be in different directories (each is its own volume)", j.Plan, j.ReportDir)
	}
	sched, err := CronSchedule(j.Period, j.RandomizedDelay)
	if err != nil {
		return nil, fmt.Errorf("cronjob: %w", err)
	}
	if k.ServiceAccount == "" {
		k.ServiceAccount = j.User
	}
	if k.RunAsUser == 0 {
		k.RunAsUser = 65532
	}
	c := Container{
		Name: "rotate", Image: k.Image, Command: []string{j.Binary}, Args: j.args(),
		VolumeMounts: []VolumeMount{
			{Name: "plan", MountPath: filepath.Dir(j.Plan), ReadOnly: true},
			{Name: "reports", MountPath: j.ReportDir},
			{Name: "tmp", MountPath: "/tmp"},
		},
		SecurityContext: ContainerSecurityContext{ReadOnlyRootFilesystem: true, Capabilities: Capabilities{Drop: []string{"ALL"}}},
	}
	vols := []Volume{
		{Name: "plan", ConfigMap: &NameRef{Name: k.PlanConfigMap}},
		{Name: "reports", PersistentVolumeClaim: &ClaimRef{ClaimName: k.ReportsClaim}},
		{Name: "tmp", EmptyDir: &struct{}{}},
	}
	if k.VaultSecretName != "" {
		c.VolumeMounts = append(c.VolumeMounts, VolumeMount{Name: "vault-secret-id", MountPath: secretMountDir, ReadOnly: true})
		c.Env = append(c.Env, EnvVar{Name: EnvVaultSecretIDFile, Value: secretMountDir + "/" + CredentialVaultSecretID})
		vols = append(vols, Volume{Name: "vault-secret-id", Secret: &SecretRef{SecretName: k.VaultSecretName, DefaultMode: 0o400}})
	}
	return &CronJob{
		APIVersion: "batch/v1", Kind: "CronJob",
		Metadata: ObjectMeta{Name: j.Name, Namespace: k.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "tikv-ear", "app.kubernetes.io/component": "rotate"}},
		Spec: CronJobSpec{
			Schedule: sched, TimeZone: "Etc/UTC", ConcurrencyPolicy: "Forbid",
			StartingDeadlineSeconds: int64(Day / time.Second), SuccessfulJobsHistoryLimit: 3, FailedJobsHistoryLimit: 3,
			JobTemplate: JobTemplateSpec{Spec: JobSpec{BackoffLimit: 0, Template: PodTemplateSpec{Spec: PodSpec{
				RestartPolicy: "Never", ServiceAccountName: k.ServiceAccount,
				SecurityContext: PodSecurityContext{RunAsNonRoot: true, RunAsUser: k.RunAsUser, FSGroup: k.RunAsUser},
				Containers:      []Container{c}, Volumes: vols,
			}}}},
		},
	}, nil
}

// YAML renders the CronJob manifest.
func (c *CronJob) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding cronjob: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding cronjob: %w", err)
	}
	return b.Bytes(), nil
}

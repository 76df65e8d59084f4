package node

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// backend is TiKV's master-key Backend trait (components/encryption/src/master_key/mod.rs).
type backend interface {
	encrypt(ctx context.Context, plain []byte) (*encryptionpb.EncryptedContent, *encErr)
	decrypt(ctx context.Context, c *encryptionpb.EncryptedContent) ([]byte, *encErr)
	secure() bool
	debug() string // the {:?} form in the fallback WARN line; key material is always REDACTED
}

// ---- plaintext ----

type plaintextBackend struct{}

func (plaintextBackend) encrypt(_ context.Context, plain []byte) (*encryptionpb.EncryptedContent, *encErr) {
	return &encryptionpb.EncryptedContent{
		Metadata: map[string][]byte{tikv.MetadataMethod: []byte(tikv.MetadataMethodPlaintext)},
		Content:  append([]byte(nil), plain...),
	}, nil
}

// decrypt fails with WrongMasterKey when the content is not plaintext (master_key/mod.rs PlaintextBackend).
func (plaintextBackend) decrypt(_ context.Context, c *encryptionpb.EncryptedContent) ([]byte, *encErr) {
	m, ok := c.Metadata[tikv.MetadataMethod]
	if !ok {
		return nil, otherErr(srcMasterMod, 49, "metadata method not found")
	}
	if string(m) != tikv.MetadataMethodPlaintext {
		return nil, &encErr{kind: kindWrongKey, msg: boxErr(srcMasterMod, 56, fmt.Sprintf(
			"encryption method mismatch, expected %s vs actual %s", rustBytes([]byte(tikv.MetadataMethodPlaintext)), rustBytes(m)))}
	}
	return append([]byte(nil), c.Content...), nil
}

func (plaintextBackend) secure() bool  { return false }
func (plaintextBackend) debug() string { return "PlaintextBackend" }

// ---- AES-256-GCM in memory (file keys and KMS data keys) ----

type memBackend struct{ key []byte }

func (m *memBackend) gcm() cipher.AEAD {
	block, err := aes.NewCipher(m.key)
	if err != nil {
		panic(fmt.Sprintf("aes-256 key of %d bytes: %v", len(m.key), err)) // keys are always 32 bytes here
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// encrypt seals with AES-256-GCM: 12-byte IV, 16-byte tag in metadata (master_key/mem.rs, metadata.rs).
func (m *memBackend) encrypt(_ context.Context, plain []byte) (*encryptionpb.EncryptedContent, *encErr) {
	iv := make([]byte, 12)
	if _, err := rand.Read(iv); err != nil {
		return nil, otherErr(srcMemRs, 40, err.Error())
	}
	sealed := m.gcm().Seal(nil, iv, plain, nil)
	n := len(sealed) - 16
	return &encryptionpb.EncryptedContent{
		Metadata: map[string][]byte{
			tikv.MetadataMethod:    []byte(tikv.MetadataMethodAES256GCM),
			tikv.MetadataIV:        iv,
			tikv.MetadataAESGCMTag: sealed[n:],
		},
		Content: sealed[:n],
	}, nil
}

// decrypt mirrors MemAesGcmBackend::decrypt_content: a foreign method is an
// Other error (no fallback), a failed tag is WrongMasterKey.
func (m *memBackend) decrypt(_ context.Context, c *encryptionpb.EncryptedContent) ([]byte, *encErr) {
	method, ok := c.Metadata[tikv.MetadataMethod]
	if !ok {
		return nil, otherErr(srcMemRs, 66, "metadata method not found")
	}
	if string(method) != tikv.MetadataMethodAES256GCM {
		return nil, otherErr(srcMemRs, 74, fmt.Sprintf("encryption method mismatch, expected %s vs actual %s",
			rustBytes([]byte(tikv.MetadataMethodAES256GCM)), rustBytes(method)))
	}
	iv, ok := c.Metadata[tikv.MetadataIV]
	if !ok || len(iv) != 12 {
		return nil, otherErr(srcMemRs, 85, "metadata iv not found")
	}
	tag, ok := c.Metadata[tikv.MetadataAESGCMTag]
	if !ok {
		return nil, otherErr(srcMemRs, 93, "gcm tag not found")
	}
	plain, err := m.gcm().Open(nil, iv, append(append([]byte(nil), c.Content...), tag...), nil)
	if err != nil {
		// DERIVED: AesGcmCrypter returns Error::Crypter(ErrorStack) with an empty stack
		// for a tag mismatch; both Displays print "OpenSSL error" (errors.rs, rust-openssl).
		return nil, &encErr{kind: kindWrongKey, msg: boxErr(srcMemRs, 104, "decrypt in GCM mode failed: OpenSSL error OpenSSL error")}
	}
	return plain, nil
}

func (m *memBackend) secure() bool { return true }
func (m *memBackend) debug() string {
	return `MemAesGcmBackend { key: PlainKey("REDACTED") }`
}

// ---- file ----

type fileBackend struct {
	mem  *memBackend
	path string
}

// newFileBackend applies FileBackend::new's checks in order (tikv-encryption.md §1.3).
func newFileBackend(path string) (*fileBackend, *encErr) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, ioErr(err)
	}
	if st.Size() != tikv.FileKeySize {
		return nil, otherErr(srcFileRs, 34, fmt.Sprintf(tikv.ErrKeyFileSizeFmt, st.Size()))
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, ioErr(err)
	}
	if content[len(content)-1] != '\n' {
		return nil, otherErr(srcFileRs, 48, tikv.ErrKeyFileNoNewline)
	}
	key, derr := hex.DecodeString(string(content[:len(content)-1]))
	if derr != nil {
		return nil, otherErr(srcFileRs, 53, tikv.ErrKeyFileDecodePrefix+hexError(content[:len(content)-1]))
	}
	return &fileBackend{mem: &memBackend{key: key}, path: path}, nil
}

// hexError renders the hex crate's FromHexError Display for the first bad character
// ("Invalid character 'g' at position 5").
func hexError(s []byte) string {
	for i, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return fmt.Sprintf("Invalid character %q at position %d", rune(c), i)
		}
	}
	return "Odd number of digits"
}

func (f *fileBackend) encrypt(ctx context.Context, p []byte) (*encryptionpb.EncryptedContent, *encErr) {
	return f.mem.encrypt(ctx, p)
}
func (f *fileBackend) decrypt(ctx context.Context, c *encryptionpb.EncryptedContent) ([]byte, *encErr) {
	return f.mem.decrypt(ctx, c)
}
func (f *fileBackend) secure() bool { return true }
func (f *fileBackend) debug() string {
	return fmt.Sprintf(`FileBackend { path: %q, backend: %s }`, f.path, f.mem.debug())
}

// ---- KMS ----

// kmsProvider is one cloud's KMS: it generates and unwraps a 32-byte data key.
type kmsProvider interface {
	name() string // stored kms_vendor ("AWS", "azure", "gcp")
	generate(ctx context.Context) (plain, wrapped []byte, err error)
	unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
}

// kmsBackend is KmsBackend: envelope encryption with a cached data key
// (components/encryption/src/master_key/kms.rs).
type kmsBackend struct {
	mu       sync.Mutex
	provider kmsProvider
	version  semver
	cipher   []byte // cached wrapped key
	mem      *memBackend
}

func (k *kmsBackend) encrypt(ctx context.Context, p []byte) (*encryptionpb.EncryptedContent, *encErr) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mem == nil {
		plain, wrapped, err := k.provider.generate(ctx)
		if err != nil {
			return nil, &encErr{kind: kindCloud, msg: err.Error()}
		}
		k.mem, k.cipher = &memBackend{key: plain}, wrapped
	}
	c, e := k.mem.encrypt(ctx, p)
	if e != nil {
		return nil, e
	}
	c.Metadata[tikv.MetadataKMSVendor] = []byte(k.provider.name())
	c.Metadata[tikv.MetadataKMSCiphertextKey] = append([]byte(nil), k.cipher...)
	return c, nil
}

func (k *kmsBackend) decrypt(ctx context.Context, c *encryptionpb.EncryptedContent) ([]byte, *encErr) {
	vendor, ok := c.Metadata[tikv.MetadataKMSVendor]
	if !ok {
		return nil, &encErr{kind: kindWrongKey, msg: boxErr(srcKmsRs, 143, "missing KMS vendor")}
	}
	if string(vendor) != k.provider.name() {
		return nil, otherErr(srcKmsRs, 150, fmt.Sprintf("KMS vendor mismatch expect %s got Some(%s)",
			rustBytes([]byte(k.provider.name())), rustBytes(vendor)))
	}
	wrapped, ok := c.Metadata[tikv.MetadataKMSCiphertextKey]
	if !ok {
		return nil, otherErr(srcKmsRs, 158, "KMS ciphertext key not found")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mem == nil || string(k.cipher) != string(wrapped) {
		plain, err := k.provider.unwrap(ctx, wrapped)
		if err != nil {
			if k.version.kmsDecryptFixed() {
				// Error::WrongMasterKey(box_err!(cloud_convert_error("decrypt encrypted key failed")(e))):
				// CloudConvertError displays "{cloud error} {msg}" (components/encryption/src/errors.rs,
				// master_key/kms.rs at v7.5.4, v8.1.1, v8.4.0, v8.5.0).
				return nil, &encErr{kind: kindWrongKey, msg: boxErr(srcKmsRs, 171, err.Error()+" "+tikv.ErrKMSDecryptFailed)}
			}
			return nil, &encErr{kind: kindCloud, msg: err.Error() + " " + tikv.ErrKMSDecryptFailed}
		}
		k.mem, k.cipher = &memBackend{key: plain}, append([]byte(nil), wrapped...)
	}
	return k.mem.decrypt(ctx, c)
}

func (k *kmsBackend) secure() bool { return true }
func (k *kmsBackend) debug() string {
	return fmt.Sprintf(`KmsBackend { vendor: %q, state: Some(State { key: PlainKey("REDACTED") }) }`, k.provider.name())
}

// awsProvider talks to AWS KMS (or local-kms) with GenerateDataKey(AES_256) and Decrypt.
type awsProvider struct {
	client *kms.Client
	keyID  string
	down   func() bool // KMS-unreachable fault
}

func (a *awsProvider) name() string { return tikv.StoredVendorAWS }

func (a *awsProvider) generate(ctx context.Context) ([]byte, []byte, error) {
	if a.down() {
		return nil, nil, errKMSDown
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second) // kms.rs timeout_duration = 10s
	defer cancel()
	out, err := a.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(a.keyID), KeySpec: kmstypes.DataKeySpecAes256})
	if err != nil {
		return nil, nil, err
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

func (a *awsProvider) unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if a.down() {
		return nil, errKMSDown
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := a.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped, KeyId: aws.String(a.keyID)})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// simError is a constant error of the sim's own faults (sim text, not TiKV's).
type simError string

func (e simError) Error() string { return string(e) }

// errKMSDown is what every KMS call returns while the KMS-unreachable fault is on.
const errKMSDown simError = "simulated fault: KMS endpoint unreachable"

// gcpKeyID is KEY_ID_PATTERN of the GCP KMS backend (components/cloud/gcp/src/kms.rs; tikv-encryption.md §1.2).
var gcpKeyID = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/cryptoKeys/([^/]+)/?$`)

// newBackend builds a master-key backend as create_backend does (components/encryption/export/src/lib.rs).
func (n *Node) newBackend(mk masterKeyConfig, v semver) (backend, *encErr) {
	switch mk.Type {
	case tikv.MasterKeyFile:
		b, err := newFileBackend(mk.Path)
		if err != nil {
			return nil, err
		}
		return b, nil
	case tikv.MasterKeyKMS:
		return n.newKMSBackend(mk, v)
	}
	return plaintextBackend{}, nil
}

func (n *Node) newKMSBackend(mk masterKeyConfig, v semver) (backend, *encErr) {
	var p kmsProvider
	switch {
	case mk.Vendor == tikv.VendorAWS || mk.Vendor == "":
		if mk.KeyID == "" {
			return nil, otherErr(srcConfigRs, 120, tikv.ErrKeyIDEmpty)
		}
		ak, sk := "sim-access-key", "sim-secret-key" // dummy credentials: local-kms does not check SigV4
		if v.hasAWSTable() && mk.AWS != nil {
			if s := str(mk.AWS, "access-key"); s != "" {
				ak = s
			}
			if s := str(mk.AWS, "secret-access-key"); s != "" {
				sk = s
			}
		}
		region := mk.Region
		if region == "" {
			region = "us-east-1"
		}
		cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), RetryMaxAttempts: 1}
		client := kms.NewFromConfig(cfg, func(o *kms.Options) {
			if mk.Endpoint != "" {
				o.BaseEndpoint = aws.String(mk.Endpoint)
			}
		})
		p = &awsProvider{client: client, keyID: mk.KeyID, down: n.kmsDown}
	case mk.Vendor == tikv.VendorAzure && v.hasAzure():
		if mk.KeyID == "" {
			return nil, otherErr(srcConfigRs, 120, tikv.ErrKeyIDEmpty)
		}
		a := mk.Azure
		if a == nil {
			// create_cloud_backend's sanity check, box_err! at components/encryption/export/src/lib.rs:67.
			return nil, otherErr(srcExportLib, 67, tikv.ErrAzureInvalid)
		}
		if str(a, "client-certificate") == "" && str(a, "client-certificate-path") == "" && str(a, "client-secret") == "" {
			// AzureKms::new: KmsError::Other(box_err!(…)) at components/cloud/azure/src/kms.rs:141,
			// through cloud_convert_error("new Azure KMS") (tikv/tikv 8e964719).
			return nil, cloudErr("Key error: Kms error "+boxErr(srcAzureKms, 141, tikv.ErrAzureInvalid), "new Azure KMS")
		}
		ap, err := n.newAzureProvider(mk)
		if err != nil {
			return nil, err
		}
		p = ap
	case mk.Vendor == tikv.VendorGCP && v.hasGCP():
		if mk.KeyID == "" {
			return nil, otherErr(srcConfigRs, 120, tikv.ErrKeyIDEmpty)
		}
		if mk.GCP == nil {
			// create_cloud_backend's sanity check: Error::Other(box_err!(…)) at
			// components/encryption/export/src/lib.rs:80 (tikv/tikv 8e964719).
			return nil, otherErr(srcExportLib, 80, tikv.ErrGCPInvalid)
		}
		gp, err := n.newGCPProvider(mk)
		if err != nil {
			return nil, err
		}
		p = gp
	default:
		return nil, otherErr(srcExportLib, 58, tikv.ErrProviderNotFoundPrefix+mk.Vendor)
	}
	n.log.catalogue(tikvlog.MsgInitKMSBackend, "", threadMain,
		field{"region", mk.Region}, field{"endpoint", mk.Endpoint}, field{"key_id", mk.KeyID}, field{"vendor", mk.Vendor})
	return &kmsBackend{provider: p, version: v}, nil
}

package kms

import (
	"fmt"

	"github.com/tikv-ear/tikv-ear/kms/core"
)

// NextKeyProblem says, before anything is created or any host touched, why a
// master-key rotation with this spec could not move TiKV to a new key; it
// returns "" when it can. The cloud KMS backends need to be told where the new
// key comes from: AWS and Azure need next-key-id or create-keys (TiKV decrypts
// by key id, so a new key version would change nothing for it: kms/awskms and
// kms/azurekms package docs); GCP makes a new primary version of the same
// CryptoKey, which is a rotation but not an incident one (TiKV keeps key.dict
// wrapped by the old version: kms/gcpkms package doc), so an incident needs
// next-key-id. File and Vault number their own generations. The second result
// is the fix, naming the setting to change in planName.
func (s Spec) NextKeyProblem(incident bool, planName string) (problem, fix string) {
	switch {
	case s.Backend == core.BackendAWS && s.AWS != nil && s.AWS.NextKeyID == "" && !s.AWS.CreateKeys:
		return "the aws key backend has nowhere to take a new master key from: [target.key.aws] names no next-key-id and create-keys is off",
			"set [target.key.aws] next-key-id to another CMK (or create-keys = true so the rotation creates one) in " + planName + ", then rotate again; for a scheduled rotation, AWS's own automatic key rotation is transparent to TiKV"
	case s.Backend == core.BackendAzure && s.Azure != nil && s.Azure.NextKeyID == "" && !s.Azure.CreateKeys:
		return "the azure key backend has nowhere to take a new master key from: [target.key.azure] names no next-key-id and create-keys is off",
			"set [target.key.azure] next-key-id to another key (or create-keys = true so the rotation creates <key>-g2) in " + planName + ", then rotate again"
	case incident && s.Backend == core.BackendGCP && s.GCP != nil && (s.GCP.NextKeyID == "" || s.GCP.NextKeyID == s.GCP.KeyID):
		return fmt.Sprintf("an incident rotation must move TiKV off the suspect key, but [target.key.gcp] names no next-key-id: a new version of CryptoKey %s would leave key.dict wrapped by the suspect version", s.GCP.KeyID),
			"set [target.key.gcp] next-key-id to another CryptoKey in " + planName + ", then rotate --incident again"
	}
	return "", ""
}

package notify

import _ "embed"

// SchemaV1 is the JSON Schema (draft 2020-12) of the version 1 document,
// for receivers that validate what they get.
//
//go:embed schema/incident-v1.json
var SchemaV1 []byte

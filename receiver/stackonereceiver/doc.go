// Package stackonereceiver polls StackOne's logs APIs and emits each entry as an OTLP log record.
//
//go:generate ../../.tools/bin/mdatagen metadata.yaml
package stackonereceiver

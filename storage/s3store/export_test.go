package s3store

import "time"

// SetStaleUploadAge lets tests sweep uploads without waiting a day.
func SetStaleUploadAge(s *Store, age time.Duration) { s.staleAfter = age }

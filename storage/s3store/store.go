// Package s3store keeps blobs in an S3 bucket (AWS S3 or an S3-compatible
// server such as Versity, MinIO, Ceph RGW or SeaweedFS), so that several
// media servers can share them.
//
// Bodies stream in both directions: a Put holds what it has read of the
// current part and at most a few parts of Config.PartSize in memory
// whatever the body's size, and Fetch hands back the response body. A Put
// becomes visible only when complete (S3 makes a PUT and a completed
// multipart upload atomic); a failed or cancelled Put aborts its multipart
// upload, and Sweep aborts uploads that a crash or an outage left behind.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/xmppmedia/mediaserver/storage"
)

var (
	_ storage.Blobs        = (*Store)(nil)
	_ storage.RangeFetcher = (*Store)(nil)
	_ storage.Sweeper      = (*Store)(nil)
)

const (
	// partsInFlight is how many parts of one upload are sent at once while
	// the next is read, so an upload holds at most partsInFlight+1 parts.
	partsInFlight = 2
	// maxParts is S3's limit on the parts of one multipart upload.
	maxParts = 10000
	// deleteBatch is S3's limit on the keys of one DeleteObjects request.
	deleteBatch = 1000
	// maxBackoff caps the wait between retries, so that MaxAttempts bounds
	// the time an operation can take.
	maxBackoff = 5 * time.Second
	// staleUploadAge is how old an unfinished multipart upload must be for
	// Sweep to abort it. Other servers sharing the bucket may be uploading
	// right now; no upload of theirs runs for a day.
	staleUploadAge = 24 * time.Hour
)

// Store is a blob store in one S3 bucket, under an optional key prefix. It
// is safe for concurrent use.
type Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ends in "/"
	cfg    Config

	// chunks recycles the memory that parts are read into.
	chunks *chunkPool
	// staleAfter is staleUploadAge; tests shorten it.
	staleAfter time.Duration
}

// New returns a Store for cfg. It does not contact the server (see Ping),
// so a server can start while S3 is briefly away.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}

	// The request timeout is applied to every connection as "no byte moved
	// for this long", not as a total deadline, so that long downloads that
	// keep going are not cut off; see idleTimeoutConn.
	dialer := &net.Dialer{Timeout: cfg.RequestTimeout, KeepAlive: 30 * time.Second}
	httpClient := awshttp.NewBuildableClient().
		WithReadTimeout(0). // ours below replaces the SDK's read-only one
		WithTransportOptions(func(tr *http.Transport) {
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &idleTimeoutConn{Conn: conn, timeout: cfg.RequestTimeout}, nil
			}
			tr.ResponseHeaderTimeout = cfg.RequestTimeout
			tr.TLSHandshakeTimeout = cfg.RequestTimeout
			// Close pooled connections before their idle read deadline
			// could fire under a request just written to them.
			tr.IdleConnTimeout = cfg.RequestTimeout / 2
		})
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = cfg.MaxAttempts
			o.MaxBackoff = maxBackoff
		})
	}

	var awsCfg aws.Config
	if cfg.AccessKeyID != "" {
		// Static keys: nothing from the environment or shared files.
		awsCfg = aws.Config{
			Region:      cfg.Region,
			Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
			HTTPClient:  httpClient,
			Retryer:     retryer,
		}
	} else {
		var err error
		awsCfg, err = awsconfig.LoadDefaultConfig(ctx,
			awsconfig.WithRegion(cfg.Region),
			awsconfig.WithHTTPClient(httpClient),
			awsconfig.WithRetryer(retryer),
		)
		if err != nil {
			return nil, fmt.Errorf("s3 store: load AWS configuration: %w", err)
		}
	}

	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Multipart objects carry composite checksums the SDK cannot check
		// on GET; it would log a warning for each.
		o.DisableLogOutputChecksumValidationSkipped = true
	})

	s := &Store{
		client:     client,
		bucket:     cfg.Bucket,
		prefix:     normalizePrefix(cfg.Prefix),
		cfg:        cfg,
		staleAfter: staleUploadAge,
		chunks:     newChunkPool(),
	}
	return s, nil
}

// objectKey maps a storage key to the S3 object key.
func (s *Store) objectKey(key string) (string, error) {
	if !storage.ValidKey(key) {
		return "", fmt.Errorf("s3 store key %q: %w", key, storage.ErrInvalidKey)
	}
	return s.prefix + key, nil
}

// Ping checks that the bucket is reachable with the configured credentials.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if status, ok := httpStatus(err); ok && status == http.StatusNotFound {
		// Not ErrNotFound: that kind is for blobs, and this is a
		// misconfiguration.
		return fmt.Errorf("s3 ping: bucket %s does not exist: %w", s.bucket, err)
	}
	if err != nil {
		return classify(ctx, "ping bucket "+s.bucket, err)
	}
	return nil
}

// Fetch opens the blob under key. The size is the response's length.
func (s *Store) Fetch(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	okey, err := s.objectKey(key)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(okey)})
	if err != nil {
		return nil, 0, classify(ctx, "fetch "+key, err)
	}
	if out.ContentLength == nil {
		out.Body.Close()
		return nil, 0, fmt.Errorf("s3 fetch %s: response has no content length", key)
	}
	return &objectBody{ctx: ctx, key: key, body: out.Body}, *out.ContentLength, nil
}

// FetchRange opens length bytes of the blob under key from offset, with a
// ranged GET, so that nothing before offset is transferred.
func (s *Store) FetchRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	okey, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("s3 fetch %s: invalid range offset %d length %d", key, offset, length)
	}
	if length == 0 {
		// HTTP cannot express an empty range; check only that the blob
		// exists and the offset lies inside it.
		head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(okey)})
		if err != nil {
			return nil, classify(ctx, "fetch "+key, err)
		}
		if size := aws.ToInt64(head.ContentLength); offset > size {
			return nil, fmt.Errorf("s3 fetch %s: range offset %d beyond size %d", key, offset, size)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(okey),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)),
	})
	if err != nil {
		return nil, classify(ctx, fmt.Sprintf("fetch %s range %d+%d", key, offset, length), err)
	}
	// S3 shortens a range that runs past the end; the contract says the
	// range lies inside the blob, so a short answer is the caller's error.
	if got := aws.ToInt64(out.ContentLength); got != length {
		out.Body.Close()
		return nil, fmt.Errorf("s3 fetch %s: range %d+%d runs past the end of the blob (%d bytes returned)", key, offset, length, got)
	}
	return &objectBody{ctx: ctx, key: key, body: out.Body}, nil
}

// objectBody marks failures while reading a response body as the store
// being unavailable, as they would be had they happened before the
// response.
type objectBody struct {
	ctx  context.Context
	key  string
	body io.ReadCloser
}

func (b *objectBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil && err != io.EOF {
		if b.ctx.Err() != nil {
			return n, fmt.Errorf("s3 read %s: %w", b.key, err)
		}
		return n, fmt.Errorf("s3 read %s: %w: %w", b.key, storage.ErrUnavailable, err)
	}
	return n, err
}

func (b *objectBody) Close() error { return b.body.Close() }

// Put stores r under key. A body that fits in one part goes up in a single
// PUT; a larger one in a multipart upload, part by part, so memory stays
// bounded. Either way the object appears only when complete.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	okey, err := s.objectKey(key)
	if err != nil {
		return 0, err
	}
	first, err := s.chunks.readPart(ctx, r, s.partSize())
	switch {
	case err == io.EOF:
		defer s.chunks.release(first)
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(okey),
			Body:          first.reader(),
			ContentLength: aws.Int64(int64(first.size)),
		})
		if err != nil {
			return 0, classify(ctx, "put "+key, err)
		}
		return int64(first.size), nil
	case err != nil:
		return 0, readError(ctx, key, err)
	default:
		return s.putMultipart(ctx, key, okey, r, first)
	}
}

func (s *Store) partSize() int { return int(s.cfg.PartSize) }

// putMultipart uploads first (a full part) and the rest of r as a
// multipart upload, aborting it on any failure.
func (s *Store) putMultipart(ctx context.Context, key, okey string, r io.Reader, first *part) (size int64, err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(okey),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		s.chunks.release(first)
		return 0, classify(ctx, "put "+key, err)
	}
	uploadID := created.UploadId
	completed := false
	defer func() {
		if completed {
			return
		}
		// The caller's context may be what failed; the abort must still
		// reach the server, within bounds.
		abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.operationBound())
		defer cancel()
		_, abortErr := s.client.AbortMultipartUpload(abortCtx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(s.bucket),
			Key:      aws.String(okey),
			UploadId: uploadID,
		})
		if abortErr != nil {
			// Sweep will abort it later; the object never became visible.
			err = fmt.Errorf("%w (abort of upload %s failed too, left for Sweep: %v)", err, aws.ToString(uploadID), abortErr)
		}
	}()

	// Up to partsInFlight parts upload while the next one is read: the
	// errgroup's limit makes the reading loop wait for a free slot.
	uploads, uctx := errgroup.WithContext(ctx)
	uploads.SetLimit(partsInFlight)
	var (
		mu        sync.Mutex
		completes []types.CompletedPart
	)
	upload := func(number int32, p *part) {
		uploads.Go(func() error {
			defer s.chunks.release(p)
			out, err := s.client.UploadPart(uctx, &s3.UploadPartInput{
				Bucket:            aws.String(s.bucket),
				Key:               aws.String(okey),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(number),
				Body:              p.reader(),
				ContentLength:     aws.Int64(int64(p.size)),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				return fmt.Errorf("part %d: %w", number, err)
			}
			mu.Lock()
			completes = append(completes, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(number), ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
			return nil
		})
	}

	var readErr error
	next := first
	for number := int32(1); ; number++ {
		if number > maxParts {
			s.chunks.release(next)
			readErr = fmt.Errorf("more than %d parts of %d bytes: %w", maxParts, s.cfg.PartSize, storage.ErrTooLarge)
			break
		}
		size += int64(next.size)
		upload(number, next)
		next, readErr = s.chunks.readPart(uctx, r, s.partSize())
		if readErr == nil {
			continue
		}
		if readErr == io.EOF {
			if next.size > 0 {
				size += int64(next.size)
				upload(number+1, next)
			} else {
				s.chunks.release(next)
			}
		}
		break
	}

	uploadErr := uploads.Wait()
	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("s3 put %s: %w", key, context.Cause(ctx))
	case uploadErr != nil:
		return 0, classify(ctx, "put "+key, uploadErr)
	case readErr == io.EOF:
	case errors.Is(readErr, storage.ErrTooLarge):
		return 0, fmt.Errorf("s3 put %s: %w", key, readErr)
	default:
		return 0, readError(ctx, key, readErr)
	}

	slices.SortFunc(completes, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(okey),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completes},
	})
	if err != nil {
		return 0, classify(ctx, "put "+key, err)
	}
	completed = true
	return size, nil
}

// operationBound is how long one operation can take with all its retries.
func (s *Store) operationBound() time.Duration {
	return time.Duration(s.cfg.MaxAttempts) * (s.cfg.RequestTimeout + maxBackoff)
}

// readError reports a failure of the body being stored (not of S3).
func readError(ctx context.Context, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("s3 put %s: %w", key, context.Cause(ctx))
	}
	return fmt.Errorf("s3 put %s: read body: %w", key, err)
}

// Remove deletes the blobs under keys, in batches of S3's limit. Missing
// blobs are not an error. If any key is invalid, nothing is removed.
func (s *Store) Remove(ctx context.Context, keys ...string) error {
	objects := make([]types.ObjectIdentifier, 0, len(keys))
	for _, key := range keys {
		okey, err := s.objectKey(key)
		if err != nil {
			return err
		}
		objects = append(objects, types.ObjectIdentifier{Key: aws.String(okey)})
	}
	if err := s.abortUploadsOf(ctx, objects); err != nil {
		return err
	}
	for batch := range slices.Chunk(objects, deleteBatch) {
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return classify(ctx, fmt.Sprintf("remove %d keys", len(batch)), err)
		}
		if err := deleteErrors(out.Errors); err != nil {
			return fmt.Errorf("s3 remove %d keys: %w", len(batch), err)
		}
	}
	return nil
}

// abortUploadsOf aborts unfinished multipart uploads to any of the keys:
// a Put whose abort could not reach the server (an outage) leaves one, and
// removing the key is when the caller says that upload is dead. One listing
// under the keys' common prefix covers them all.
func (s *Store) abortUploadsOf(ctx context.Context, objects []types.ObjectIdentifier) error {
	if len(objects) == 0 {
		return nil
	}
	want := make(map[string]bool, len(objects))
	common := aws.ToString(objects[0].Key)
	for _, o := range objects {
		k := aws.ToString(o.Key)
		want[k] = true
		for !strings.HasPrefix(k, common) {
			common = common[:len(common)-1]
		}
	}
	pages := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(common),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return classify(ctx, "remove: list uploads", err)
		}
		for _, u := range page.Uploads {
			if !want[aws.ToString(u.Key)] {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && !isCode(err, "NoSuchUpload") {
				return classify(ctx, "remove: abort upload of "+aws.ToString(u.Key), err)
			}
		}
	}
	return nil
}

// deleteErrors reports the keys a DeleteObjects request could not delete.
func deleteErrors(failed []types.Error) error {
	var errs []error
	unavailable := false
	for _, e := range failed {
		code := aws.ToString(e.Code)
		if code == "NoSuchKey" {
			continue // already gone: what was asked for
		}
		switch code {
		case "InternalError", "ServiceUnavailable", "SlowDown":
			unavailable = true
		}
		errs = append(errs, fmt.Errorf("%s: %s %s", aws.ToString(e.Key), code, aws.ToString(e.Message)))
	}
	if len(errs) == 0 {
		return nil
	}
	err := fmt.Errorf("%d not deleted: %w", len(errs), errors.Join(errs...))
	if unavailable {
		err = fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// Sweep aborts multipart uploads under the prefix that are older than a day:
// uploads whose abort could not reach the server (it was down), or whose
// server died. Their parts take space but were never visible as objects.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-s.staleAfter)
	removed := 0
	pages := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return removed, classify(ctx, "sweep: list uploads", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket:   aws.String(s.bucket),
				Key:      u.Key,
				UploadId: u.UploadId,
			})
			if err != nil && !isCode(err, "NoSuchUpload") {
				return removed, classify(ctx, "sweep: abort upload of "+aws.ToString(u.Key), err)
			}
			removed++
		}
	}
	return removed, nil
}

/**
 * A CRI `ImageService/PullImage` call, as kubelet v1.13 makes it (gRPC over HTTP/2 on containerd's
 * unix socket, runtime.v1alpha2), in a script that runs on a lab host with its own Node and
 * nothing else: `node -e CRI_PULL_SCRIPT SOCKET IMAGE` prints the image ref containerd answers, or
 * `rpc error: code = … desc = …` and exits 1. The two messages hold only strings, so they are
 * written and read in protobuf's wire format directly (Debian bookworm has no crictl).
 */
export const CRI_PULL_SCRIPT = `
const http2 = require('node:http2');
const net = require('node:net');
const [socket, image] = process.argv.slice(1);
const field = (n, bytes) => {
  const len = [];
  let v = bytes.length;
  do { len.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>>= 7; } while (v > 0);
  return Buffer.concat([Buffer.from([(n << 3) | 2, ...len]), bytes]);
};
// PullImageRequest { image: ImageSpec { image } }
const msg = field(1, field(1, Buffer.from(image)));
const frame = Buffer.alloc(5 + msg.length);
frame.writeUInt32BE(msg.length, 1);
msg.copy(frame, 5);
const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
session.on('error', (e) => { console.error(e.message); process.exit(2); });
const req = session.request({ ':method': 'POST', ':path': '/runtime.v1alpha2.ImageService/PullImage', 'content-type': 'application/grpc', te: 'trailers' });
let status, message = '';
const take = (h) => { if (h['grpc-status'] !== undefined) status = String(h['grpc-status']); if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message'])); };
req.on('response', take);
req.on('trailers', take);
const chunks = [];
req.on('data', (c) => chunks.push(c));
req.on('end', () => {
  session.close();
  if (status !== '0') { console.log('rpc error: code = ' + status + ' desc = ' + message); process.exit(1); }
  const body = Buffer.concat(chunks).subarray(5);
  // PullImageResponse { image_ref = 1 }: tag, one-byte length (a digest reference fits), text.
  console.log(body.subarray(2, 2 + body[1]).toString());
});
req.setTimeout(60000, () => { console.log('rpc error: code = DeadlineExceeded desc = timed out'); process.exit(1); });
req.end(frame);
`;

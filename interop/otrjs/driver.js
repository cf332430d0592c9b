// driver.js runs otr.js 0.2.16 (npm "otr") sessions for the interop tests in
// ../otrjs_test.go. It is our code, not otr.js's: otr.js itself is installed
// by .ci/run into a cache outside the repository and found through NODE_PATH.
//
// Protocol: one JSON object per line on stdin, one JSON reply per line on
// stdout, in order. A request is {"id": n, "op": "...", ...}; its reply is
// {"id": n, "events": [...], ...} or {"id": n, "error": "..."}. The events
// are everything otr.js emitted while handling the request, after its
// outgoing queue (which otr.js empties with setTimeout) has drained:
//
//	{"type": "io", "text": wire message to deliver to the other side}
//	{"type": "ui", "text": plaintext for the user, "encrypted": bool}
//	{"type": "status", "status": otr.js status code (2: AKE success, 3: ended)}
//	{"type": "error", "text": ..., "severity": "error" or "warn"}
//	{"type": "smp", "kind": "question", "question": ...}
//	{"type": "smp", "kind": "trust", "trust": bool, "how": "asked" or "answered"}
//	{"type": "smp", "kind": "abort"}
//
// Operations (sid names one otr.js OTR object, one conversation):
//
//	version                         the installed otr.js version
//	key {key}                       the DSA key for new sessions (otr.js's packPrivate form, base64)
//	new {sid, tag, fragmentSize}    a session; tag is its instance tag
//	query {sid}                     send a query message
//	send {sid, text}                send text (encrypted once the AKE is done)
//	receive {sid, text}             deliver one wire message
//	smp {sid, secret, question}     start SMP, or answer the peer's (otr.smpSecret)
//	end {sid}                       end the encrypted session
//	info {sid}                      msgstate, authstate, SSID, fingerprints, the AKE's g^x
//	close {sid}                     forget the session
//	force {bits, hex}               the next BigInt.randBigInt(bits) returns hex
//	forced                          how many forced values are still queued
//
// "force" is the hook on otr.js's random source: lib/ake.js draws the AKE's
// r with BigInt.randBigInt(128) (initiateAKE) and its D-H keys with
// randBigInt(320) (OTR.prototype.dh), both looked up on the shared
// vendor/bigint.js module object at call time, so replacing that property
// here reaches them.
'use strict'

const readline = require('readline')
const OTRLib = require('otr')
const BigInt = require('otr/vendor/bigint.js')
const CryptoJS = require('otr/vendor/crypto.js')
const HLP = require('otr/lib/helpers.js')

const OTR = OTRLib.OTR
const DSA = OTRLib.DSA

// otr.js logs its debug trace with console.log; stdout is our channel.
console.log = function () {}

const forced = {} // bits -> queue of hex values
const randBigInt = BigInt.randBigInt
BigInt.randBigInt = function (n, s) {
  const q = forced[n]
  if (q && q.length) return BigInt.str2bigInt(q.shift(), 16, Math.ceil(n / 15) + 2)
  return randBigInt.call(this, n, s)
}

let key = null
const sessions = new Map()
let pending = [] // events of the request being handled

function latin1ToHex(s) {
  return CryptoJS.enc.Latin1.parse(s).toString(CryptoJS.enc.Hex)
}

function newSession(req) {
  if (!key) throw new Error('no key: send op "key" first')
  if (sessions.has(req.sid)) throw new Error('session exists: ' + req.sid)
  const otr = new OTR({
    priv: key,
    instance_tag: HLP.packINT(req.tag),
    fragment_size: req.fragmentSize || 0,
    // debug: errors carry otr.js's reason ("Hashed g^x does not match.")
    // instead of "An OTR error has occurred."
    debug: true,
  })
  otr.on('io', (msg) => pending.push({ type: 'io', text: msg }))
  otr.on('ui', (msg, encrypted) => pending.push({ type: 'ui', text: msg, encrypted: !!encrypted }))
  otr.on('status', (status) => pending.push({ type: 'status', status: status }))
  otr.on('error', (err, severity) => pending.push({ type: 'error', text: String(err), severity: severity }))
  otr.on('smp', (kind, a, b) => {
    const ev = { type: 'smp', kind: kind }
    if (kind === 'question') ev.question = a || ''
    if (kind === 'trust') {
      ev.trust = !!a
      ev.how = b
    }
    pending.push(ev)
  })
  sessions.set(req.sid, otr)
  return { tag: req.tag, fingerprint: key.fingerprint() }
}

function session(sid) {
  const otr = sessions.get(sid)
  if (!otr) throw new Error('no session: ' + sid)
  return otr
}

function info(otr) {
  return {
    msgstate: otr.msgstate,
    authstate: otr.authstate,
    ssid: otr.ssid ? latin1ToHex(otr.ssid) : '',
    ourFingerprint: otr.priv.fingerprint(),
    theirFingerprint: otr.their_priv_pk ? otr.their_priv_pk.fingerprint() : '',
    theirTag: HLP.readLen(otr.their_instance_tag),
    // The MPI of the AKE's g^x: what a D-H Commit encrypts and hashes.
    gxmpi: latin1ToHex(HLP.packMPI(otr.ake.our_dh.publicKey)),
  }
}

function handle(req) {
  switch (req.op) {
    case 'version':
      return { version: require('otr/package.json').version }
    case 'key':
      key = DSA.parsePrivate(req.key)
      return { fingerprint: key.fingerprint() }
    case 'new':
      return newSession(req)
    case 'query':
      session(req.sid).sendQueryMsg()
      return {}
    case 'send':
      session(req.sid).sendMsg(req.text)
      return {}
    case 'receive':
      session(req.sid).receiveMsg(req.text)
      return {}
    case 'smp':
      session(req.sid).smpSecret(req.secret, req.question || undefined)
      return {}
    case 'end':
      session(req.sid).endOtr()
      return {}
    case 'info':
      return { info: info(session(req.sid)) }
    case 'close':
      sessions.delete(req.sid)
      return {}
    case 'force':
      if (!/^[0-9a-f]+$/.test(req.hex)) throw new Error('force: bad hex')
      ;(forced[req.bits] = forced[req.bits] || []).push(req.hex)
      return {}
    case 'forced':
      return { count: Object.keys(forced).reduce((n, b) => n + forced[b].length, 0) }
  }
  throw new Error('unknown op: ' + req.op)
}

// drained calls done once no session has queued output: otr.js's io()
// sends one message per setTimeout tick.
function drained(done) {
  for (const otr of sessions.values()) {
    if (otr.outgoing.length) {
      setTimeout(() => drained(done), 0)
      return
    }
  }
  // One more tick: the last message is emitted by a timer scheduled
  // before this check ran.
  setTimeout(done, 0)
}

const queue = []
let busy = false

function next() {
  if (busy || !queue.length) return
  busy = true
  const req = queue.shift()
  pending = []
  let reply
  try {
    reply = handle(req)
  } catch (e) {
    reply = { error: String(e && e.stack || e) }
  }
  drained(() => {
    reply.id = req.id
    reply.events = pending
    pending = []
    process.stdout.write(JSON.stringify(reply) + '\n')
    busy = false
    next()
  })
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  if (!line.trim()) return
  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: 'bad request: ' + e }) + '\n')
    return
  }
  queue.push(req)
  next()
})
rl.on('close', () => {
  // Let the last reply go out, then stop.
  const wait = () => (busy || queue.length ? setTimeout(wait, 1) : process.exit(0))
  wait()
})

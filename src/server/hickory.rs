//! hickory-server adapter: our engine behind hickory's `RequestHandler`.
//!
//! `dnslb serve --engine hickory` serves through hickory-server's `Server`
//! (its UDP and TCP listeners and message encoder) instead of our own
//! listeners. It answers with the same engine, so it is the reference the
//! fast path is checked against (tests/integration: differential test), and
//! a fallback should our listeners ever misbehave on some platform.
//!
//! The engine writes wire bytes; hickory's `ResponseHandler` only takes a
//! structured `MessageResponse`, so the reply is decoded and re-encoded by
//! hickory. That costs time, which is why it is not the default path.

use std::cell::RefCell;

use hickory_proto::op::{Message, Metadata};
use hickory_proto::rr::{Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use std::sync::Arc;

use crate::dns::cookie::CookieJar;
use crate::dns::{Transport, Worker};
use crate::snapshot::SharedSnapshot;

thread_local! {
    static WORKER: RefCell<(Worker, Vec<u8>)> = RefCell::new((Worker::default(), Vec::with_capacity(4096)));
}

/// Serves the current snapshot through hickory-server.
pub struct Handler {
    pub snap: SharedSnapshot,
    /// DNS cookie secrets, if `[cookies]` is on.
    pub cookies: Option<Arc<CookieJar>>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let transport = match request.protocol() {
            Protocol::Udp => Transport::Udp,
            _ => Transport::Tcp,
        };
        let reply = WORKER.with(|w| {
            let (worker, out) = &mut *w.borrow_mut();
            worker.set_cookies(self.cookies.clone());
            let snap = self.snap.load();
            worker
                .respond(&snap, request.as_slice(), request.src(), transport, out)
                .then(|| Message::from_vec(out))
        });
        let fallback = |request: &Request| {
            let mut m = Metadata::new(
                request.metadata.id,
                hickory_proto::op::MessageType::Response,
                request.metadata.op_code,
            );
            m.response_code = hickory_proto::op::ResponseCode::ServFail;
            m
        };
        let mut msg = match reply {
            Some(Ok(m)) => m,
            // The engine never writes undecodable bytes; if it did, SERVFAIL
            // beats silence.
            Some(Err(e)) => {
                tracing::error!(error = %e, "engine reply did not decode");
                let r = MessageResponseBuilder::new(&request.queries, None)
                    .build_no_records(fallback(request));
                return response_handle.send_response(r).await.unwrap_or_else(|_| {
                    ResponseInfo::from(hickory_proto::op::Header {
                        metadata: fallback(request),
                        counts: Default::default(),
                    })
                });
            }
            None => {
                return ResponseInfo::from(hickory_proto::op::Header {
                    metadata: fallback(request),
                    counts: Default::default(),
                });
            }
        };
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        // A TSIG record (the NOTAUTH/BADKEY reply) stays an additional
        // record here, and hickory writes the OPT after the additionals;
        // the TSIG must stay last (RFC 8945 §5.1), so the OPT goes in as a
        // plain record before it.
        let signed = msg
            .additionals
            .last()
            .is_some_and(|r| r.record_type() == RecordType::TSIG);
        if signed && let Some(e) = msg.edns.take() {
            let tsig = msg.additionals.pop();
            msg.additionals.push(Record::from(&e));
            msg.additionals.extend(tsig);
        }
        if let Some(e) = &msg.edns {
            builder.edns(e);
        }
        let metadata = msg.metadata;
        let resp = builder.build(
            metadata,
            msg.answers.iter(),
            msg.authorities.iter(),
            std::iter::empty(),
            msg.additionals.iter(),
        );
        match response_handle.send_response(resp).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "hickory send failed");
                ResponseInfo::from(hickory_proto::op::Header {
                    metadata,
                    counts: Default::default(),
                })
            }
        }
    }
}

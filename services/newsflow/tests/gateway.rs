//! The gateway against a real broker and the three stage services: an article POSTed to it
//! arrives, tagged, on a subscribed SSE stream and on the WebSocket; bad bodies and bad tokens
//! get their 4xx and nothing reaches Kafka; a client that reconnects with `Last-Event-ID` gets
//! what it missed, once; 200 clients get every event while a stuck one is dropped.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::time::{Duration, Instant};

use common::free_port;
use common::gateway::*;
use common::pipeline::read_to_end;
use futures::StreamExt as _;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_article_arrives_tagged_on_sse_and_websocket_and_bad_requests_produce_nothing() {
    let (pipeline, _services) = started_pipeline("gateway-ingest");
    let gateway = Gateway::start(
        &pipeline.brokers,
        &pipeline.topics.prefix,
        &["--max-body-bytes", "100000"],
    );
    let client = reqwest::Client::new();
    let raw = |id: &str| json!({"id": id, "source": "wire", "content_type": "text/plain", "content": war_story(0)});

    // Refused: no token, a wrong token, bad bodies. Nothing of them may reach Kafka.
    let ok_body = raw("refused-1").to_string();
    let (status, body) = post(
        &client,
        &gateway,
        None,
        "application/json",
        &[],
        ok_body.clone(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    newsflow_testkit::assert_valid_api("Error", &body);
    let (status, _) = post(
        &client,
        &gateway,
        Some("wrong"),
        "application/json",
        &[],
        ok_body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "application/json",
        &[],
        "{nope",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let batch = json!([raw("refused-2"), {"id": "refused-3", "source": "wire", "content_type": "text/plain", "content": "x", "url": "not a url"}]);
    let (status, body) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "application/json",
        &[],
        batch.to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["index"], 1);
    assert_eq!(body["schema_path"], "/properties/url/format");
    newsflow_testkit::assert_valid_api("InvalidBody", &body);
    let (status, _) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "application/pdf",
        &[],
        "%PDF",
    )
    .await;
    assert_eq!(status, 415);
    let (status, body) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "text/plain",
        &[],
        "no source",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "text/plain",
        &[("x-newsflow-source", "wire")],
        "x".repeat(200_000),
    )
    .await;
    assert_eq!(status, 413);
    let (status, _) = client
        .get(gateway.url("/v1/stream?topics=ukraine-war"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 401, "the stream needs the token too");
    let not_ws = client
        .get(gateway.url("/v1/ws?topics=ukraine-war"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(not_ws.status().as_u16(), 400, "a plain GET of /v1/ws");

    // Subscribed on both transports, then one article in.
    let mut sse = SseReader::open(
        &gateway,
        &format!("topics=ukraine-war&access_token={TOKEN}"),
        None,
    )
    .await;
    let ws_url = format!("ws://{}/v1/ws?topics=ukraine-war", gateway.api);
    let mut ws_request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url)
            .unwrap();
    ws_request
        .headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_request).await.unwrap();
    let (status, body) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "text/plain; charset=utf-8",
        &[
            ("x-newsflow-source", "wire"),
            ("x-newsflow-url", "https://example.org/kyiv-blackouts"),
        ],
        war_story(1),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    newsflow_testkit::assert_valid_api("Accepted", &body);
    let id = body["ids"][0].as_str().unwrap().to_owned();

    let (got, position, article) = sse.article(Duration::from_secs(60)).await;
    assert_eq!(got, id);
    assert!(
        topic_ids(&article).contains(&"ukraine-war".to_owned()),
        "{article}"
    );
    newsflow_testkit::assert_valid("enriched.v1.schema.json", &article);
    assert!(!position.is_empty());
    let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let message: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
    assert_eq!(message["event"], "article");
    assert_eq!(message["data"]["id"], id.as_str());
    ws.close(None).await.unwrap();

    // Exactly the one accepted article reached news.raw.v1.
    let raw_records = read_to_end(&[pipeline.topic("news.raw.v1")], 2);
    assert_eq!(
        raw_records.len(),
        1,
        "only the accepted article is produced"
    );
    let metrics = gateway.service.get("/metrics").unwrap().1;
    assert_eq!(
        common::metric_value(&metrics, "newsflow_gateway_ingested_records_total", ""),
        1.0
    );
    assert!(
        common::metric_value(
            &metrics,
            "newsflow_gateway_requests_total",
            "status=\"401\""
        ) >= 3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_with_last_event_id_gets_what_it_missed_once() {
    let (pipeline, _services) = started_pipeline("gateway-resume");
    let gateway = Gateway::start(&pipeline.brokers, &pipeline.topics.prefix, &[]);
    let client = reqwest::Client::new();
    // Every enriched article (no topic filter): distinct articles of the corpus.
    let query = format!("access_token={TOKEN}");
    let stories = corpus_articles(5);
    let send = |n: usize| {
        let (client, gateway, story) = (&client, &gateway, stories[n - 1].clone());
        async move {
            let id = format!("resume-{n}");
            let headers = [
                ("x-newsflow-source", "wire"),
                ("x-newsflow-id", id.as_str()),
            ];
            let (status, body) =
                post(client, gateway, Some(TOKEN), "text/plain", &headers, story).await;
            assert_eq!(status, 202, "{body}");
        }
    };

    let mut first = SseReader::open(&gateway, &query, None).await;
    send(1).await;
    let (id, position, _) = first.article(Duration::from_secs(60)).await;
    assert_eq!(id, "resume-1");
    drop(first);

    // Missed while away.
    for n in 2..=4 {
        send(n).await;
    }
    // Let them reach the topic before reconnecting, so part is caught up from Kafka.
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_to_end(&[pipeline.topic("news.enriched.v1")], 2).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the pipeline did not tag the articles"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut again = SseReader::open(&gateway, &query, Some(&position)).await;
    send(5).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(again.article(Duration::from_secs(60)).await.0);
    }
    ids[..3].sort();
    assert_eq!(ids, ["resume-2", "resume-3", "resume-4", "resume-5"]);
    assert!(
        again.next(Duration::from_secs(3)).await.is_none(),
        "nothing is delivered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_get_every_event_while_a_stuck_one_is_dropped() {
    const CLIENTS: usize = 200;
    // A reading client may fall 1,024 articles (25 s) behind before it is dropped: the debug
    // builds of the gateway and of 200 test clients share two cores with whatever else runs.
    // The stuck client fills its socket's send buffer (the gateway caps it) and its own 1,024;
    // more articles follow until it has (measured with a buffer of 128: within 1,000).
    const EVENTS: usize = 600;
    const RATE: u32 = 40;
    const BUFFER: &str = "1024";
    let topics = common::Topics::create("gateway-fanout", 2);
    let gateway = Gateway::start(
        &common::brokers(),
        &topics.prefix,
        &["--client-buffer", BUFFER, "--max-clients", "500"],
    );
    let topic = format!("{}news.enriched.v1", topics.prefix);
    let query = format!("access_token={TOKEN}");

    // The stuck client: connects with a small receive window, sends its request, never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(gateway.api.parse().unwrap()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stuck,
        format!("GET /v1/stream?{query} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut readers = Vec::new();
    for _ in 0..CLIENTS {
        readers.push(SseReader::open(&gateway, &query, None).await);
    }
    let rss_before = gateway.rss_kib();
    let writer = tokio::task::spawn_blocking(move || write_enriched(&topic, EVENTS, RATE));
    let counts: Vec<usize> =
        futures::future::join_all(readers.into_iter().map(|mut reader| async move {
            let mut seen = std::collections::HashSet::new();
            while seen.len() < EVENTS {
                let Some(event) = reader.next(Duration::from_secs(60)).await else {
                    break;
                };
                assert_eq!(event.event, "article", "{event:?}");
                // The id without parsing 2,000 × 200 articles in a debug build.
                let id = event
                    .data
                    .split("\"id\":\"fan-")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next());
                assert!(seen.insert(id.unwrap().to_owned()), "a repeat");
            }
            seen.len()
        }))
        .await;
    writer.await.unwrap();
    let rss_after = gateway.rss_kib();
    assert!(
        counts.iter().all(|&c| c == EVENTS),
        "every reading client gets every event: {:?}",
        counts.iter().filter(|&&c| c != EVENTS).collect::<Vec<_>>()
    );
    // The readers have gone; more articles until the stuck client's buffers are full.
    let dropped = |gateway: &Gateway| {
        let metrics = gateway.service.get("/metrics").unwrap().1;
        common::metric_value(
            &metrics,
            "newsflow_gateway_clients_dropped_total",
            "reason=\"slow_client\"",
        )
    };
    let mut written = EVENTS;
    while dropped(&gateway) == 0.0 && written < 20 * EVENTS {
        let topic = format!("{}news.enriched.v1", topics.prefix);
        tokio::task::spawn_blocking(move || write_enriched(&topic, 200, 1_000))
            .await
            .unwrap();
        written += 200;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        dropped(&gateway),
        1.0,
        "the stuck client, and only it, is dropped"
    );
    println!(
        "gateway RSS: {rss_before} KiB with {CLIENTS} clients connected, {rss_after} KiB after \
         {EVENTS} articles to each; the stuck client was dropped within {written} articles"
    );
    // Buffered articles are shared between clients (each buffer holds references), so 200
    // clients cost little beyond their sockets: under 256 MiB.
    assert!(rss_after < 256 * 1024, "RSS {rss_after} KiB");
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_apply_and_sigterm_ends_every_stream_with_its_reason() {
    let topics = common::Topics::create("gateway-sigterm", 1);
    let gateway = Gateway::start(&common::brokers(), &topics.prefix, &["--rate-limit", "1"]);
    assert_eq!(gateway.service.get("/healthz").map(|r| r.0), Some(200));
    // One request per second per token: the second at once is refused, with when to retry.
    let client = reqwest::Client::new();
    let page = [("x-newsflow-source", "wire")];
    let (first, body) = post(
        &client,
        &gateway,
        Some(TOKEN),
        "text/plain",
        &page,
        war_story(3),
    )
    .await;
    assert_eq!(first, 202, "{body}");
    let second = client
        .post(gateway.url("/v1/articles"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .header("x-newsflow-source", "wire")
        .body(war_story(4))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 429);
    let retry: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(gateway.service.get("/readyz").map(|r| r.0), Some(200));
    let mut stream = SseReader::open(&gateway, &format!("access_token={TOKEN}"), None).await;
    // A client that reads nothing must not hold the shutdown up for ever either.
    let mut stuck = tokio::net::TcpStream::connect(&gateway.api).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stuck,
        format!("GET /v1/stream?access_token={TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    gateway.service.signal("TERM");
    let end = stream
        .next(Duration::from_secs(10))
        .await
        .expect("a last event");
    assert_eq!(end.event, "error");
    assert_eq!(end.data, r#"{"reason":"shutdown"}"#);
    let Gateway { service, .. } = gateway;
    let code = tokio::task::spawn_blocking(move || service.wait(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "exit status after SIGTERM");
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_ingest_answers_503_and_the_gateway_is_not_ready() {
    let nobody = format!("127.0.0.1:{}", free_port());
    let gateway = Gateway::spawn(&nobody, "", &["--ack-timeout", "2s"]);
    let started = Instant::now();
    let (status, body) = post(
        &reqwest::Client::new(),
        &gateway,
        Some(TOKEN),
        "text/plain",
        &[("x-newsflow-source", "wire")],
        war_story(9),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "broker_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered within the ack timeout"
    );
    let (code, text) = gateway.service.get("/readyz").unwrap();
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("broker"), "{text}");
}

//! Normalizer throughput over the shared corpus.
//!
//! - `text`: every plain-text page of `bbc-2005/` and `ukraine-war/` (≈ 2.7k pages, ≈ 2–3 KB
//!   each). Target: ≥ 40,000 articles/s per core.
//! - `html`: the same stories wrapped in a realistic page (head with meta tags, JSON-LD, a
//!   stylesheet and scripts; header and navigation, figure, share widget, aside, footer, cookie
//!   banner). Target: ≥ 20 MB/s per core.
//!
//! - `html_eval`: the 990 real crawled pages of `html-eval/` (news, blogs, shops; 139 MB),
//!   decoded as `newsflow run` decodes files. Target (issue 18): ≥ 290 pages/s per core, ten
//!   times trafilatura's speed on the same pages.
//!
//! Each layout is measured twice over the same batch, once counted in articles
//! (`Throughput::Elements`) and once in bytes (`Throughput::Bytes`).
//! `cargo bench -p newsflow-core --bench normalize` measures; `cargo test --benches` runs each
//! case once as a smoke test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use newsflow_core::event::{ContentType, RawEvent};
use newsflow_core::normalize::SourceConfig;
use newsflow_core::stage::StageContext;
use newsflow_core::{NormalizeConfig, NormalizeStage};

fn raw(id: usize, content_type: ContentType, content: String) -> RawEvent {
    RawEvent {
        url: Some(format!("https://news.example/story/{id}?utm_source=feed")),
        ..RawEvent::with_content(format!("bench-{id}"), "bench", content_type, content)
    }
}

/// The corpus's text pages, decoded as `newsflow run` decodes files.
fn text_pages() -> Vec<String> {
    let corpus = newsflow_testkit::corpus_dir();
    let mut dirs: Vec<std::path::PathBuf> =
        ["business", "entertainment", "politics", "sport", "tech"]
            .iter()
            .map(|class| corpus.join("bbc-2005").join(class))
            .collect();
    dirs.push(corpus.join("ukraine-war"));
    let mut pages = Vec::new();
    for dir in dirs {
        pages.extend(pages_in(&dir, "txt"));
    }
    pages
}

/// The files of one folder with this extension, sorted by name, decoded.
fn pages_in(dir: &Path, extension: &str) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files.iter().map(|path| read_text(path)).collect()
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    newsflow_core::decode::decode_bytes(&bytes, None).text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{margin:0;font-family:Georgia,serif;color:#222}.site-header{display:flex;justify-content:space-between;padding:12px 24px;border-bottom:1px solid #ddd}.nav a{margin-right:16px;text-decoration:none;color:#333}.article{max-width:720px;margin:0 auto;padding:24px}.article h1{font-size:2.4rem;line-height:1.1}.byline{color:#666;font-size:.9rem}figure{margin:24px 0}figcaption{font-size:.8rem;color:#777}.share a{display:inline-block;padding:4px 8px;border:1px solid #ccc}.related li{margin-bottom:8px}.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#111;color:#fff;padding:16px}footer{padding:24px;background:#f4f4f4}@media (max-width:600px){.article{padding:12px}.nav{display:none}}";

const SCRIPT: &str = "(function(){var d=document,w=window;w.dataLayer=w.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag('js',new Date());gtag('config','G-XXXX');var s=d.createElement('script');s.async=true;s.src='https://ads.example/tag.js';d.head.appendChild(s);w.addEventListener('scroll',function(){if(w.scrollY>400){d.body.classList.add('scrolled');}});var consent=d.cookie.indexOf('consent=1')<0;if(consent){d.querySelector('.cookie-banner').hidden=false;}for(var i=0;i<10;i++){if(i<5&&i>2){console.log('<p>not text</p>');}}})();";

/// A story as a news site serves it.
fn html_page(id: usize, text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let title = escape(lines.next().unwrap_or("Untitled"));
    let paragraphs: Vec<String> = lines.map(escape).collect();
    let mut page = String::with_capacity(text.len() * 3 + 12_000);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str(&format!(
        "<title>{title} | Example News</title>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta property=\"og:title\" content=\"{title}\">\n<meta property=\"og:type\" content=\"article\">\n<meta property=\"article:published_time\" content=\"2022-06-16T06:44:00-04:00\">\n<meta property=\"article:section\" content=\"World\">\n<meta name=\"author\" content=\"Staff Reporter\">\n<link rel=\"canonical\" href=\"https://news.example/world/{id}?utm_source=rss\">\n<link rel=\"stylesheet\" href=\"/static/site.css\">\n"
    ));
    page.push_str(&format!(
        "<script type=\"application/ld+json\">{{\"@context\":\"https://schema.org\",\"@type\":\"NewsArticle\",\"headline\":\"{}\",\"datePublished\":\"2022-06-16T06:44:00-04:00\",\"author\":[{{\"@type\":\"Person\",\"name\":\"Staff Reporter\"}}],\"publisher\":{{\"@type\":\"Organization\",\"name\":\"Example News\"}}}}</script>\n",
        title.replace('"', "")
    ));
    page.push_str(&format!(
        "<style>{STYLE}</style>\n<script>{SCRIPT}</script>\n</head>\n<body>\n"
    ));
    page.push_str("<div class=\"cookie-banner\" hidden>We use cookies to improve your experience. <button>Accept all</button> <button>Manage cookies</button></div>\n");
    page.push_str("<header class=\"site-header\"><a class=\"logo\" href=\"/\">Example News</a>\n<nav class=\"nav\"><ul>");
    for section in [
        "World",
        "UK",
        "Business",
        "Politics",
        "Tech",
        "Science",
        "Health",
        "Sport",
        "Culture",
        "Travel",
        "Opinion",
        "Video",
        "Audio",
        "Weather",
        "Newsletters",
        "Podcasts",
    ] {
        page.push_str(&format!(
            "<li><a href=\"/{}\" class=\"nav-link\">{section}</a></li>",
            section.to_lowercase()
        ));
    }
    page.push_str("</ul></nav></header>\n<main>\n<article class=\"article\">\n");
    page.push_str(&format!(
        "<h1>{title}</h1>\n<p class=\"byline\">By Staff Reporter · <time datetime=\"2022-06-16T06:44:00-04:00\">June 16, 2022</time></p>\n"
    ));
    page.push_str("<figure><img src=\"/img/lead.jpg\" alt=\"Lead image\" width=\"720\" height=\"405\"><figcaption>The scene on Thursday. Photo: Agency/Example News</figcaption></figure>\n");
    for (i, paragraph) in paragraphs.iter().enumerate() {
        page.push_str(&format!("<p>{paragraph}</p>\n"));
        if i == 3 {
            page.push_str("<div class=\"advert\" aria-hidden=\"true\"><span>Advertisement</span><script>loadAd('mid');</script></div>\n");
        }
    }
    page.push_str("<div class=\"share\">Share this article: <a href=\"#\">Facebook</a> <a href=\"#\">X</a> <a href=\"#\">Email</a></div>\n</article>\n");
    page.push_str("<aside class=\"related\"><h2>Most read</h2><ol>");
    for k in 0..10 {
        page.push_str(&format!(
            "<li><a href=\"/story/{k}\"><img src=\"/img/{k}.jpg\" alt=\"\"><span>Another story people are reading today, number {k}</span></a></li>"
        ));
    }
    page.push_str("</ol></aside>\n</main>\n<footer><p>© 2026 Example News</p><nav><a href=\"/privacy\">Privacy</a> <a href=\"/terms\">Terms</a> <a href=\"/cookies\">Cookies</a> <a href=\"/contact\">Contact</a></nav></footer>\n");
    page.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    page
}

fn bench_layout(
    c: &mut Criterion,
    name: &str,
    config: NormalizeConfig,
    content_type: ContentType,
    pages: &[String],
) {
    let stage = NormalizeStage::new(config).expect("a valid config");
    let ctx = StageContext::at(chrono::DateTime::UNIX_EPOCH);
    let batch: Vec<RawEvent> = pages
        .iter()
        .enumerate()
        .map(|(i, page)| raw(i, content_type.clone(), page.clone()))
        .collect();
    let bytes: u64 = pages.iter().map(|p| p.len() as u64).sum();
    let mut group = c.benchmark_group(format!("normalize_{name}"));
    group.sample_size(10);
    let run = |batch: Vec<RawEvent>| {
        for raw in batch {
            let article = stage.normalize(raw, &ctx);
            black_box(article.is_ok());
        }
    };
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("articles", |b| {
        b.iter_batched(|| batch.clone(), run, BatchSize::LargeInput)
    });
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("bytes", |b| {
        b.iter_batched(|| batch.clone(), run, BatchSize::LargeInput)
    });
    group.finish();
}

fn normalize(c: &mut Criterion) {
    let pages = text_pages();
    bench_layout(
        c,
        "text",
        NormalizeConfig::default(),
        ContentType::TextPlain,
        &pages,
    );
    // The same pages from a source configured with its language: no detection, which is the
    // most expensive step (whatlang compares the sample with ~70 language profiles).
    let mut declared = NormalizeConfig::default();
    declared.sources.insert(
        "bench".into(),
        SourceConfig {
            language: Some("en".into()),
            ..SourceConfig::default()
        },
    );
    bench_layout(
        c,
        "text_declared_language",
        declared,
        ContentType::TextPlain,
        &pages,
    );
    // Every other story, so the HTML batch is about as long to run as the text one.
    let html: Vec<String> = pages
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, text)| html_page(i, text))
        .collect();
    bench_layout(
        c,
        "html",
        NormalizeConfig::default(),
        ContentType::TextHtml,
        &html,
    );
}

/// The real pages of `html-eval`, decoded as `newsflow run` decodes files.
fn html_eval_pages() -> Vec<String> {
    let dir = newsflow_testkit::corpus_dir()
        .join("html-eval")
        .join("pages");
    pages_in(&dir, "html")
}

fn real_pages(c: &mut Criterion) {
    let pages = html_eval_pages();
    bench_layout(
        c,
        "html_eval",
        NormalizeConfig::default(),
        ContentType::TextHtml,
        &pages,
    );
}

criterion_group!(benches, normalize, real_pages);
criterion_main!(benches);

//! The client against an SSE server nobody here wrote: nginx with the nchan module. Receive,
//! drop the connection, miss some messages, resume with Last-Event-ID, get exactly those.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use tidings::client::connection::{self, ConnectionConfig, ConnectionEvent, ConnectionState};
use tidings::sse::MessageEvent;

mod common {
    pub mod nginx;
}

use common::nginx::{NCHAN_MODULE, Nginx};

const WAIT: Duration = Duration::from_secs(10);

fn start_nginx() -> Nginx {
    assert!(
        std::path::Path::new(NCHAN_MODULE).exists(),
        "nginx with nchan is needed: apt-get install nginx-light libnginx-mod-nchan (scripts/test.sh does)"
    );
    Nginx::start(&format!("load_module {NCHAN_MODULE};"), |port| {
        format!(
            " server {{\n  listen 127.0.0.1:{port};\n\
               location = /pub {{ nchan_publisher; nchan_channel_id news; nchan_message_buffer_length 100; }}\n\
               location = /sub {{ nchan_subscriber eventsource; nchan_channel_id news; }}\n }}\n"
        )
    })
}

async fn publish(base: &str, text: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/pub"))
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

async fn next_message(events: &mut tokio::sync::mpsc::Receiver<ConnectionEvent>) -> MessageEvent {
    loop {
        match tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("no message in time")
        {
            Some(ConnectionEvent::Message(message)) => return message,
            Some(ConnectionEvent::State(
                ConnectionState::Unauthorized { .. } | ConnectionState::Closed { .. },
            ))
            | None => {
                panic!("the connection stopped")
            }
            Some(ConnectionEvent::State(_)) => {}
        }
    }
}

async fn until_live(events: &mut tokio::sync::mpsc::Receiver<ConnectionEvent>) {
    loop {
        match tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("never live")
        {
            Some(ConnectionEvent::State(ConnectionState::Live { .. })) => return,
            Some(_) => {}
            None => panic!("the connection stopped"),
        }
    }
}

#[tokio::test]
async fn receive_and_resume_through_nginx_nchan() {
    let nginx = start_nginx();
    let http = connection::http_client(Duration::from_secs(5)).unwrap();
    let mut config = ConnectionConfig::new(format!("{}/sub", nginx.base));
    config.idle_timeout = None;
    let (handle, mut events) = connection::spawn(config.clone(), http.clone());
    until_live(&mut events).await;
    // nchan needs a moment to register the subscriber before the first publish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut received = Vec::new();
    for text in ["one", "two\nlines", "three"] {
        publish(&nginx.base, text).await;
        received.push(next_message(&mut events).await);
    }
    let data: Vec<&str> = received.iter().map(|m| m.data.as_str()).collect();
    assert_eq!(data, ["one", "two\nlines", "three"]);
    assert!(
        received
            .iter()
            .all(|m| m.event_type == "message" && !m.last_event_id.is_empty())
    );
    let last_id = received[2].last_event_id.clone();
    handle.close();
    drop(events);

    // Missed while away.
    publish(&nginx.base, "four").await;
    publish(&nginx.base, "five").await;
    config.last_event_id = Some(last_id);
    let (handle, mut events) = connection::spawn(config, http);
    let four = next_message(&mut events).await;
    let five = next_message(&mut events).await;
    assert_eq!((four.data.as_str(), five.data.as_str()), ("four", "five"));
    publish(&nginx.base, "six").await;
    assert_eq!(
        next_message(&mut events).await.data,
        "six",
        "and then live again"
    );
    handle.close();
}

use crate::helpers::TestApp;

async fn probes_answer_and_requests_are_counted(app: TestApp) {
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let op = res.headers().get("x-operation-id").expect("operation id header").to_str().unwrap().to_owned();
    assert_eq!(op.len(), 32);

    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"portico_http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("portico_http_request_duration_seconds_bucket"));
}

async fn operation_ids_differ_per_request(app: TestApp) {
    let a = app.client.get(app.url("/healthz")).send().await.unwrap();
    let b = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_ne!(a.headers()["x-operation-id"], b.headers()["x-operation-id"]);
}

crate::both_backends!(probes_answer_and_requests_are_counted, operation_ids_differ_per_request);

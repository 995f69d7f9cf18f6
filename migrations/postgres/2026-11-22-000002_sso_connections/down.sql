DROP TABLE sso_test_results;
DROP TABLE sso_seen_assertions;
DROP TABLE sso_requests;
DROP TABLE sso_connections;

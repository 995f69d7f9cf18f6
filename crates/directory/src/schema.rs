//! Diesel table definitions, matching `migrations/{sqlite,postgres}`. Every table is read and
//! written by the storage tests on both backends, so a column that drifts fails them.

diesel::table! {
    enterprises (id) {
        id -> Text,
        key -> Text,
        name -> Text,
        provisioning_mode -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        enterprise_id -> Text,
        key -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        enterprise_id -> Text,
        login -> Text,
        login_key -> Text,
        email -> Nullable<Text>,
        name -> Text,
        external_id -> Nullable<Text>,
        origin -> Text,
        active -> Bool,
        password_hash -> Nullable<Text>,
        last_sign_in_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        scim_external_id -> Nullable<Text>,
        scim_profile -> Text,
        version -> BigInt,
        links_by_admin_only -> Bool,
    }
}

diesel::table! {
    org_groups (id) {
        id -> Text,
        enterprise_id -> Text,
        organization_id -> Text,
        name -> Text,
        description -> Text,
        builtin -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        idp_group_id -> Nullable<Text>,
        created_by_mapping -> Bool,
    }
}

diesel::table! {
    org_group_members (group_id, user_id, source) {
        group_id -> Text,
        user_id -> Text,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        login -> Text,
        login_key -> Text,
        email -> Nullable<Text>,
        name -> Text,
        password_hash -> Nullable<Text>,
        active -> Bool,
        last_sign_in_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    role_grants (id) {
        id -> Text,
        user_id -> Text,
        enterprise_id -> Text,
        organization_id -> Nullable<Text>,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        enterprise_id -> Nullable<Text>,
        prefix -> Text,
        secret_hash -> Text,
        description -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        operator_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        address -> Text,
        user_agent -> Text,
        sid -> Nullable<Text>,
        connection_id -> Nullable<Text>,
        email_verified -> Bool,
        flash -> Nullable<Text>,
    }
}

diesel::table! {
    setup_tokens (token_hash) {
        token_hash -> Text,
        purpose -> Text,
        operator_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> Text,
        account_key -> Text,
        address -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> Timestamp,
        enterprise_id -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
        action -> Text,
        target_kind -> Nullable<Text>,
        target_id -> Nullable<Text>,
        target_name -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
        operation_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::joinable!(organizations -> enterprises (enterprise_id));
diesel::joinable!(users -> enterprises (enterprise_id));
diesel::joinable!(org_groups -> organizations (organization_id));
diesel::joinable!(org_group_members -> org_groups (group_id));
diesel::joinable!(org_group_members -> users (user_id));
diesel::joinable!(role_grants -> users (user_id));

diesel::table! {
    data_fixes (name) {
        name -> Text,
        applied_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    enterprises,
    organizations,
    users,
    org_groups,
    org_group_members,
    operators,
    role_grants,
    api_keys,
    sessions,
    setup_tokens,
    sign_in_failures,
    audit_events,
    sso_connections,
    sso_requests,
    sso_seen_assertions,
    sso_test_results,
    scim_tokens,
    idp_groups,
    idp_group_members,
    scim_requests,
    jobs,
    org_group_permissions,
    host_applications,
    host_application_enterprises,
    op_signing_keys,
    op_authorizations,
    op_grants,
    op_tokens,
    event_cursor,
    events,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
);

diesel::table! {
    sso_connections (id) {
        id -> Text,
        enterprise_id -> Text,
        protocol -> Text,
        provider -> Text,
        status -> Text,
        settings -> Text,
        map_login -> Nullable<Text>,
        map_email -> Nullable<Text>,
        map_name -> Nullable<Text>,
        map_groups -> Nullable<Text>,
        tested_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        default_application_id -> Nullable<Text>,
    }
}

diesel::table! {
    sso_requests (id) {
        id -> Text,
        connection_id -> Text,
        mode -> Text,
        return_to -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        nonce -> Nullable<Text>,
        pkce_verifier -> Nullable<Text>,
    }
}

diesel::table! {
    sso_seen_assertions (connection_id, assertion_id) {
        connection_id -> Text,
        assertion_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sso_test_results (id) {
        id -> Text,
        connection_id -> Text,
        outcome -> Text,
        reason -> Nullable<Text>,
        result -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sso_connections -> enterprises (enterprise_id));
diesel::joinable!(sso_requests -> sso_connections (connection_id));

diesel::table! {
    scim_tokens (id) {
        id -> Text,
        enterprise_id -> Text,
        prefix -> Text,
        secret_hash -> Text,
        description -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(scim_tokens -> enterprises (enterprise_id));

diesel::table! {
    idp_groups (id) {
        id -> Text,
        enterprise_id -> Text,
        display_name -> Text,
        external_id -> Nullable<Text>,
        origin -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idp_group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scim_requests (id) {
        id -> Text,
        enterprise_id -> Text,
        at -> Timestamp,
        method -> Text,
        path -> Text,
        status -> Integer,
        duration_micros -> BigInt,
        scim_type -> Nullable<Text>,
        detail -> Nullable<Text>,
        user_agent -> Text,
        token_prefix -> Nullable<Text>,
        request_body -> Nullable<Text>,
    }
}

diesel::joinable!(idp_groups -> enterprises (enterprise_id));
diesel::joinable!(idp_group_members -> idp_groups (group_id));
diesel::joinable!(idp_group_members -> users (user_id));
diesel::joinable!(scim_requests -> enterprises (enterprise_id));

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        enterprise_id -> Nullable<Text>,
        state -> Text,
        done -> BigInt,
        total -> BigInt,
        payload -> Text,
        error -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        heartbeat_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
    }
}

diesel::table! {
    org_group_permissions (group_id, permission) {
        group_id -> Text,
        permission -> Text,
    }
}

diesel::joinable!(org_group_permissions -> org_groups (group_id));

diesel::table! {
    host_applications (id) {
        id -> Text,
        name -> Text,
        public -> Bool,
        secret_hash -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        backchannel_logout_uri -> Nullable<Text>,
        initiate_login_uri -> Nullable<Text>,
        all_enterprises -> Bool,
        id_token_alg -> Text,
        access_token_ttl_secs -> Integer,
        id_token_ttl_secs -> Integer,
        refresh_token_ttl_secs -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        secret_rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    host_application_enterprises (application_id, enterprise_id) {
        application_id -> Text,
        enterprise_id -> Text,
    }
}

diesel::table! {
    op_signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        state -> Text,
        private_key_sealed -> Text,
        public_jwk -> Text,
        created_at -> Timestamp,
        activated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    op_authorizations (id) {
        id -> Text,
        application_id -> Text,
        enterprise_id -> Text,
        request -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    op_grants (id) {
        id -> Text,
        application_id -> Text,
        user_id -> Text,
        enterprise_id -> Text,
        sid -> Text,
        connection_id -> Nullable<Text>,
        email_verified -> Bool,
        scope -> Text,
        nonce -> Nullable<Text>,
        auth_time -> Timestamp,
        redirect_uri -> Text,
        code_hash -> Text,
        code_challenge -> Nullable<Text>,
        code_expires_at -> Timestamp,
        code_used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    op_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        kind -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(host_application_enterprises -> host_applications (application_id));
diesel::joinable!(host_application_enterprises -> enterprises (enterprise_id));
diesel::joinable!(op_grants -> host_applications (application_id));
diesel::joinable!(op_grants -> users (user_id));
diesel::joinable!(op_tokens -> op_grants (grant_id));

diesel::table! {
    event_cursor (id) {
        id -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    events (cursor) {
        cursor -> BigInt,
        id -> Text,
        kind -> Text,
        version -> Integer,
        enterprise_id -> Nullable<Text>,
        enterprise_key -> Nullable<Text>,
        resource -> Text,
        operation_id -> Nullable<Text>,
        occurred_at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        application_id -> Text,
        url -> Text,
        description -> Text,
        event_types -> Text,
        enabled -> Bool,
        secret_sealed -> Text,
        previous_secret_sealed -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        cursor -> BigInt,
        failing_since -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        application_id -> Text,
        endpoint_id -> Nullable<Text>,
        event_cursor -> Nullable<BigInt>,
        message_id -> Text,
        resource -> Text,
        payload -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        leased_by -> Nullable<Text>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        at -> Timestamp,
        status -> Nullable<Integer>,
        latency_ms -> Integer,
        response_excerpt -> Nullable<Text>,
        error -> Nullable<Text>,
        instance -> Text,
    }
}

diesel::joinable!(webhook_endpoints -> host_applications (application_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> events (event_cursor));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

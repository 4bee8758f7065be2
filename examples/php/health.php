<?php
/**
 * health.php: the site health endpoint that dr-exporter probes (SPEC.md §5).
 *
 * It asks the site's local DynamoDB replica about the application's table
 * (one signed DescribeTable, bounded by a short timeout) and answers
 *   200 {"status":"ok","region":"eu-west-1","table":"user_profiles",
 *        "table_status":"ACTIVE","latency_ms":7}
 *   503 {"status":"down","reason":"dynamodb: timeout after 1000 ms ...",...}
 * always as JSON with `Cache-Control: no-store`. A 503 says why: a timeout,
 * a refused connection, an AWS error (`aws_error`, e.g.
 * ResourceNotFoundException) or a table status that cannot serve
 * (`table_status`, e.g. DELETING). Keys and tokens never appear in the body
 * or the log: AWS error messages are cut to one line and scrubbed of them.
 *
 * Install (Debian 12, PHP-FPM 8.2):
 *   apt-get install php-fpm php-curl php-async-aws-core
 *   cp health.php /var/www/html/health.php        # next to the application
 * php-async-aws-core provides the SigV4 signer (AWS's own SDK for PHP is not
 * packaged); php-curl sends the request. Nothing else is loaded.
 *
 * Configuration: these variables, read on every request, so a failover that
 * rewrites the application's .env takes effect on the next probe:
 *   AWS_REGION             region of the local replica (required)
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (required), AWS_SESSION_TOKEN
 *   DR_HEALTH_TABLE        table to describe (default user_profiles)
 *   DYNAMODB_ENDPOINT      default https://dynamodb.{region}.amazonaws.com;
 *                          "{region}" is replaced (VPC endpoints, tests)
 *   DR_HEALTH_TIMEOUT_MS   whole DynamoDB call, connect included (default
 *                          1000); keep it below the exporter's probe.timeout
 *   DR_HEALTH_OK_STATUSES  table statuses that count as healthy (default
 *                          ACTIVE,UPDATING: an UPDATING table, e.g. while a
 *                          replica is added, still serves reads and writes)
 *
 * How they reach PHP-FPM: the pool's default `clear_env = yes` hides the
 * service's environment from the workers, and a graceful reload (what
 * dr-actuator's reload_command does after rewriting the .env file) keeps the
 * master's old environment anyway. So the .env file is read here directly:
 * name it in the pool configuration (e.g. /etc/php/8.2/fpm/pool.d/www.conf)
 *   env[DR_ENV_FILE] = /opt/app/.env               ; actuator.activate.env_file
 * A key set in that file wins; a key it lacks comes from getenv(): the
 * pool's `env[NAME] = value` lines, nginx `fastcgi_param`s, or the service's
 * environment with `clear_env = no`. Secrets may live in either place; keep
 * the .env file readable by the pool's user only (e.g. 0640 root:www-data).
 */

declare(strict_types=1);

/** A reason the site is down, with extra JSON fields for the answer. */
final class HealthFailure extends RuntimeException
{
    public function __construct(string $reason, public readonly array $fields = [])
    {
        parent::__construct($reason);
    }
}

/** KEY=value pairs of a dotenv file (`export`, quotes, `# comments`). */
function read_env_file(string $path): array
{
    $text = @file_get_contents($path);
    if ($text === false) {
        throw new HealthFailure("config: cannot read DR_ENV_FILE $path");
    }
    $values = [];
    $assignment = '/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*'
        . '(?:"((?:[^"\\\\]|\\\\.)*)"|\'([^\']*)\'|(.*?))(?:\s+#.*)?\s*$/';
    foreach (preg_split('/\r?\n/', $text) as $line) {
        if (!preg_match($assignment, $line, $m, PREG_UNMATCHED_AS_NULL)) {
            continue; // blank, comment or not an assignment
        }
        $values[$m[1]] = $m[2] !== null
            ? strtr($m[2], ['\\n' => "\n", '\\"' => '"', '\\\\' => '\\'])
            : ($m[3] ?? $m[4]);
    }
    return $values;
}

/** The settings, from the .env file first, then the environment. */
function health_config(): array
{
    $file = getenv('DR_ENV_FILE') ?: null;
    $fromFile = $file !== null ? read_env_file($file) : [];
    $get = static function (string $name, ?string $default = null) use ($fromFile): ?string {
        $value = $fromFile[$name] ?? getenv($name);
        return ($value === false || $value === '') ? $default : $value;
    };

    $config = [
        'region' => $get('AWS_REGION'),
        'table' => $get('DR_HEALTH_TABLE', 'user_profiles'),
        'key_id' => $get('AWS_ACCESS_KEY_ID'),
        'secret' => $get('AWS_SECRET_ACCESS_KEY'),
        'token' => $get('AWS_SESSION_TOKEN'),
        'ok_statuses' => array_filter(array_map('trim', explode(',',
            $get('DR_HEALTH_OK_STATUSES', 'ACTIVE,UPDATING'))), 'strlen'),
    ];
    if ($config['region'] === null || !preg_match('/^[a-z0-9-]{1,32}$/', $config['region'])) {
        throw new HealthFailure('config: AWS_REGION is not set or not a region name');
    }
    foreach (['key_id' => 'AWS_ACCESS_KEY_ID', 'secret' => 'AWS_SECRET_ACCESS_KEY'] as $key => $name) {
        if ($config[$key] === null) {
            throw new HealthFailure("config: $name is not set", ['region' => $config['region']]);
        }
    }
    $endpoint = str_replace('{region}', $config['region'],
        $get('DYNAMODB_ENDPOINT', 'https://dynamodb.{region}.amazonaws.com'));
    if (!preg_match('#^https?://[^/?\#@\s]+/?$#', $endpoint)) {
        throw new HealthFailure('config: DYNAMODB_ENDPOINT is not an http(s) URL without a path',
            ['region' => $config['region']]);
    }
    $config['endpoint'] = rtrim($endpoint, '/') . '/';
    $timeout = $get('DR_HEALTH_TIMEOUT_MS', '1000');
    if (!ctype_digit($timeout) || (int) $timeout < 1 || (int) $timeout > 60000) {
        throw new HealthFailure('config: DR_HEALTH_TIMEOUT_MS is not a number of ms in 1..60000',
            ['region' => $config['region']]);
    }
    $config['timeout_ms'] = (int) $timeout;
    return $config;
}

/** $text cut to one line of at most 200 bytes, with every secret removed. */
function scrub(string $text, array $config): string
{
    $line = substr(strtok($text, "\r\n") ?: '', 0, 200);
    foreach ([$config['secret'], $config['token'], $config['key_id']] as $secret) {
        if ($secret !== null && $secret !== '') {
            $line = str_replace($secret, '[redacted]', $line);
        }
    }
    return $line;
}

/**
 * One DynamoDB JSON 1.0 call, SigV4-signed with async-aws's signer and sent
 * with curl within $config['timeout_ms']. Returns the decoded answer;
 * throws HealthFailure on a timeout, a connection error or an AWS error.
 * (With the AWS SDK for PHP this would be DynamoDbClient::describeTable.)
 */
function dynamodb_call(array $config, string $operation, array $input): array
{
    $request = new AsyncAws\Core\Request('POST', '/', [], [
        'content-type' => 'application/x-amz-json-1.0',
        'x-amz-target' => 'DynamoDB_20120810.' . $operation,
    ], AsyncAws\Core\Stream\StringStream::create(json_encode($input)));
    $request->setEndpoint($config['endpoint']);
    (new AsyncAws\Core\Signer\SignerV4('dynamodb', $config['region']))->sign(
        $request,
        new AsyncAws\Core\Credentials\Credentials($config['key_id'], $config['secret'], $config['token']),
        new AsyncAws\Core\RequestContext()
    );
    $headers = ['Accept-Encoding: identity', 'User-Agent: dr-failover-health/1'];
    foreach ($request->getHeaders() as $name => $value) {
        $headers[] = "$name: $value";
    }

    $curl = curl_init($request->getEndpoint());
    curl_setopt_array($curl, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $request->getBody()->stringify(),
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_CONNECTTIMEOUT_MS => $config['timeout_ms'],
        CURLOPT_TIMEOUT_MS => $config['timeout_ms'],
        CURLOPT_NOSIGNAL => true,
        CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
        CURLOPT_SSL_VERIFYPEER => true,
        CURLOPT_SSL_VERIFYHOST => 2,
    ]);
    $body = curl_exec($curl);
    $errno = curl_errno($curl);
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    $connected = curl_getinfo($curl, CURLINFO_CONNECT_TIME) > 0;
    $osErrno = curl_getinfo($curl, CURLINFO_OS_ERRNO);
    $error = curl_error($curl);
    curl_close($curl);

    $where = parse_url($config['endpoint'], PHP_URL_HOST) . ':'
        . (parse_url($config['endpoint'], PHP_URL_PORT)
           ?? (str_starts_with($config['endpoint'], 'https:') ? 443 : 80));
    if ($errno === CURLE_OPERATION_TIMEDOUT) {
        throw new HealthFailure("dynamodb: timeout after {$config['timeout_ms']} ms ("
            . ($connected ? "no answer from $where" : "connecting to $where") . ')');
    }
    if ($errno === CURLE_COULDNT_CONNECT) {
        $why = [111 => 'connection refused', 113 => 'no route to host',
                101 => 'network unreachable'][$osErrno] ?? 'cannot connect';
        throw new HealthFailure("dynamodb: $why ($where)");
    }
    if ($errno !== 0) {
        throw new HealthFailure('dynamodb: ' . scrub($error, $config));
    }
    $answer = json_decode((string) $body, true);
    if ($status !== 200) {
        $type = is_array($answer) ? (string) ($answer['__type'] ?? '') : '';
        if ($type === '') {
            throw new HealthFailure("dynamodb: HTTP $status");
        }
        $type = substr($type, strrpos($type, '#') === false ? 0 : strrpos($type, '#') + 1);
        $message = scrub((string) ($answer['message'] ?? $answer['Message'] ?? ''), $config);
        throw new HealthFailure("dynamodb: $type" . ($message !== '' ? ": $message" : ''),
            ['aws_error' => scrub($type, $config)]);
    }
    if (!is_array($answer)) {
        throw new HealthFailure('dynamodb: answer is not JSON');
    }
    return $answer;
}

/** [HTTP status, JSON fields] for this site right now. */
function health_check(): array
{
    $started = hrtime(true);
    $fields = [];
    try {
        if (!extension_loaded('curl')) {
            throw new HealthFailure('config: the PHP curl extension (php-curl) is not loaded');
        }
        if (!@include_once 'AsyncAws/Core/autoload.php') {
            throw new HealthFailure('config: php-async-aws-core is not installed');
        }
        $config = health_config();
        $fields = ['region' => $config['region'], 'table' => $config['table']];
        $table = dynamodb_call($config, 'DescribeTable', ['TableName' => $config['table']]);
        $fields['table_status'] = (string) ($table['Table']['TableStatus'] ?? 'UNKNOWN');
        $fields['latency_ms'] = intdiv(hrtime(true) - $started, 1000000);
        if (!in_array($fields['table_status'], $config['ok_statuses'], true)) {
            throw new HealthFailure("dynamodb: table {$config['table']} is {$fields['table_status']}");
        }
        return [200, ['status' => 'ok'] + $fields];
    } catch (HealthFailure $e) {
        $fields = $e->fields + $fields;
        $reason = $e->getMessage();
    } catch (Throwable $e) {
        $reason = 'internal: ' . get_class($e);
        error_log('health.php: ' . $reason . ': ' . (isset($config) ? scrub($e->getMessage(), $config) : ''));
    }
    $fields['latency_ms'] = intdiv(hrtime(true) - $started, 1000000);
    return [503, ['status' => 'down', 'reason' => $reason] + $fields];
}

[$code, $fields] = health_check();
http_response_code($code);
header('Content-Type: application/json');
header('Cache-Control: no-store');
header('X-Content-Type-Options: nosniff');
echo json_encode($fields, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), "\n";

"""Kafka: three KRaft brokers from Maven Central jars, confluent-kafka producers and consumers."""

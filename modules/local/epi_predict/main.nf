process EPI_PREDICT {
    tag "${meta.id}:${meta.model}:fold${meta.fold}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(model), path(store)

    output:
    tuple val(meta), path("${prefix}.predictions.tsv"), emit: predictions
    path "versions.yml"                               , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_fold${meta.fold}"
    """
    epi-predict \\
        --model ${model} \\
        --data ${store} \\
        --out ${prefix}.predictions.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_fold${meta.fold}"
    """
    touch ${prefix}.predictions.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}

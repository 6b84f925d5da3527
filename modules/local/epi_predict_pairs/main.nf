// A pair-model checkpoint applied to every candidate pair of a sample (epi-predict --pairs),
// windows encoded on the fly from the genome and each element embedded once (element cache).
// meta.model names the checkpoint: the output `<model>.predictions.tsv` becomes the links
// table's `<model>_score` column.
process EPI_PREDICT_PAIRS {
    tag "${meta.id}:${meta.model}"
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(model), path(pairs), path(genome), path(genome_index)

    output:
    tuple val(meta), path("${prefix}.predictions.tsv"), emit: predictions
    path "versions.yml"                               , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.model}"
    """
    epi-predict \\
        --model ${model} \\
        --pairs ${pairs} \\
        --genome ${genome} \\
        --out ${prefix}.predictions.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.model}"
    """
    touch ${prefix}.predictions.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """
}
